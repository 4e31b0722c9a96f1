// Consumer-group routes (docs/groups.md): heartbeats and leaves of members, offset commits and
// reads, and the group listing with lag. Scopes (docs/auth.md): a heartbeat needs consume on
// every stream it subscribes to, a commit consume on its stream, a member's leave consume on
// every stream that member subscribes to; listings show only what the token may consume.
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, permits, type Principal } from "../auth/principal.ts";
import { commitOffsetSchema, heartbeatRequestSchema, type GroupDescription, type GroupService } from "../consumers/group-service.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { validBody, validParams } from "./validate.ts";
import { annotateSpan } from "./trace-middleware.ts";

const groupQuery = z.object({ stream: z.string().optional() });

function mayConsumeAny(principal: Principal, streams: readonly string[]): boolean {
  return streams.some((s) => permits(principal, "consume", s));
}

/** The description cut to what the principal may consume; FORBIDDEN when that is nothing of a group that has streams. */
function visible(principal: Principal, description: GroupDescription): GroupDescription {
  const streams = new Set([...description.members.flatMap((m) => m.streams), ...description.partitions.map((p) => p.stream)]);
  if (streams.size > 0 && !mayConsumeAny(principal, [...streams])) authorize(principal, "consume", [...streams][0]);
  const mine = (p: { stream: string }) => permits(principal, "consume", p.stream);
  return {
    ...description,
    members: description.members.map((m) => ({ ...m, streams: m.streams.filter((s) => permits(principal, "consume", s)), assignment: m.assignment.filter(mine), revoking: m.revoking.filter(mine) })),
    partitions: description.partitions.filter(mine),
  };
}

export function groupRoutes(groups: GroupService, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .get("/groups", async (c) => {
      const principal = principalOf(c);
      const all = await groups.list();
      return c.json({ groups: all.filter((g) => mayConsumeAny(principal, g.streams)).map((g) => ({ ...g, streams: g.streams.filter((s) => permits(principal, "consume", s)) })) });
    })
    .get("/groups/:group", async (c) => c.json(visible(principalOf(c), await groups.describe(c.req.param("group")))))
    .post("/groups/:group/heartbeat", limited, validBody(heartbeatRequestSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      const principal = principalOf(c);
      for (const stream of body.streams) authorize(principal, "consume", stream);
      return c.json(await groups.heartbeat(c.req.param("group"), body));
    })
    .delete("/groups/:group/members/:member", async (c) => {
      const { group, member } = c.req.param();
      const principal = principalOf(c);
      for (const stream of groups.memberStreams(group, member)) authorize(principal, "consume", stream);
      await groups.leave(group, member);
      return c.json({ group, member, left: true as const });
    })
    .post("/groups/:group/offsets", limited, validBody(commitOffsetSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorize(principalOf(c), "consume", body.stream);
      annotateSpan(c, () => ({ "messaging.destination.name": body.stream, "messaging.destination.partition.id": String(body.partition ?? 0), "strata.offset.committed": body.offset }));
      return c.json(await groups.commit(c.req.param("group"), body));
    })
    .get("/groups/:group/offsets", validParams("query", groupQuery), async (c) => {
      const principal = principalOf(c);
      const stream = c.req.valid("query").stream;
      if (stream !== undefined) authorize(principal, "consume", stream);
      const offsets = await groups.get(c.req.param("group"), stream);
      return c.json({ offsets: offsets.filter((o) => permits(principal, "consume", o.stream)) });
    });
}
