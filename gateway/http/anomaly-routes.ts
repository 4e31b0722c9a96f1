// The anomaly flags (docs/anomalies.md): `GET /v1/anomalies?after=<offset>&limit=<n>` answers
// `{anomalies: [...], next}` from `_strata/anomalies`; without `after`, the newest `limit` flags.
// Scope (docs/auth.md): consume on `_strata/anomalies` (admin tokens have it).
import { Hono } from "hono";
import { z } from "zod";
import { authorize } from "../auth/principal.ts";
import type { AnomalyFeed, AnomalyPage } from "../observability/anomaly-feed.ts";
import { ANOMALIES_STREAM } from "../observability/anomaly-record.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { validParams } from "./validate.ts";

/** Entries per page when `limit` is not given. */
const DEFAULT_PAGE = 100;

const offset = (name: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, { message: `${name} must be a non-negative integer` })
    .transform(Number)
    .optional();

const listQuery = z.object({ after: offset("after"), limit: offset("limit") });

export function anomalyRoutes(feed: AnomalyFeed) {
  return new Hono<AuthEnv>().get("/anomalies", validParams("query", listQuery), async (c) => {
    authorize(principalOf(c), "consume", ANOMALIES_STREAM);
    const q = c.req.valid("query");
    const page: AnomalyPage = await feed.list(q.after, q.limit ?? DEFAULT_PAGE);
    return c.json(page);
  });
}
