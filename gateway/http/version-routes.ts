// Artefact versions of a stream (docs/versions.md): `GET /v1/streams/{name}/versions` lists them
// newest first (`?limit=&before=`), `GET /v1/streams/{name}/versions/{ref}` picks one (latest,
// PARTITION:OFFSET, OFFSET or an artefact id prefix). Scope (docs/auth.md): consume on the stream.
import { Hono } from "hono";
import { z } from "zod";
import type { VersionsService } from "../streams/versions-service.ts";
import { requireScope, type AuthEnv } from "./auth.ts";
import { validParams } from "./validate.ts";

const count = (name: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, { message: `${name} must be a non-negative integer` })
    .transform(Number)
    .optional();

const listQuery = z.object({ limit: count("limit"), before: count("before") });
const refParams = z.object({ name: z.string(), ref: z.string().min(1).max(80) });

export function versionRoutes(versions: VersionsService) {
  return new Hono<AuthEnv>()
    .use("/streams/:name/versions", requireScope(["consume"], "name"))
    .use("/streams/:name/versions/*", requireScope(["consume"], "name"))
    .get("/streams/:name/versions", validParams("query", listQuery), async (c) => {
      const q = c.req.valid("query");
      return c.json(await versions.list(c.req.param("name"), q.limit, q.before));
    })
    .get("/streams/:name/versions/:ref", validParams("param", refParams), async (c) => {
      const { name, ref } = c.req.valid("param");
      return c.json(await versions.resolve(name, ref));
    });
}
