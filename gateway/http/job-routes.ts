// Job and checkpoint routes (docs/checkpoints.md). Scopes (docs/auth.md): a job's routes
// authorise against its checkpoint stream, jobs/{job}/checkpoints: a rank commit and setting the
// job's keep need publish on it, every read needs consume on it; GET /v1/jobs lists only the jobs
// whose stream the token may consume.
import { Hono, type MiddlewareHandler } from "hono";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, permits } from "../auth/principal.ts";
import type { JobService } from "../jobs/job-service.ts";
import { checkpointParamsSchema, checkpointStreamOf, commitRankBodySchema, jobParamsSchema, rankParamsSchema, setJobBodySchema } from "../jobs/job-wire.ts";
import type { Action } from "../../core/auth/scopes.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { validBody, validParams } from "./validate.ts";

/** The route's action on the job's checkpoint stream, checked before the body is read. */
function requireJobScope(action: Action): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    authorize(principalOf(c), action, checkpointStreamOf(c.req.param("job") ?? ""));
    await next();
  };
}

export function jobRoutes(jobs: JobService, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .get("/jobs", (c) => {
      const principal = principalOf(c);
      return c.json({ jobs: jobs.list().filter((j) => permits(principal, "consume", checkpointStreamOf(j.job))) });
    })
    .put("/jobs/:job", limited, validParams("param", jobParamsSchema), requireJobScope("publish"), validBody(setJobBodySchema, records), async (c) => {
      const { job } = c.req.valid("param");
      return c.json(await jobs.setKeep(job, c.req.valid("json").body.keep));
    })
    .get("/jobs/:job", validParams("param", jobParamsSchema), (c) => {
      const { job } = c.req.valid("param");
      authorize(principalOf(c), "consume", checkpointStreamOf(job));
      return c.json(jobs.info(job));
    })
    .get("/jobs/:job/checkpoints", validParams("param", jobParamsSchema), (c) => {
      const { job } = c.req.valid("param");
      authorize(principalOf(c), "consume", checkpointStreamOf(job));
      return c.json({ job, checkpoints: jobs.checkpoints(job) });
    })
    .get("/jobs/:job/checkpoints/latest", validParams("param", jobParamsSchema), (c) => {
      const { job } = c.req.valid("param");
      authorize(principalOf(c), "consume", checkpointStreamOf(job));
      return c.json(jobs.latest(job));
    })
    .get("/jobs/:job/checkpoints/:id", validParams("param", checkpointParamsSchema), (c) => {
      const { job, id } = c.req.valid("param");
      authorize(principalOf(c), "consume", checkpointStreamOf(job));
      return c.json(jobs.checkpoint(job, id));
    })
    .put("/jobs/:job/checkpoints/:id/ranks/:rank", limited, validParams("param", rankParamsSchema), requireJobScope("publish"), validBody(commitRankBodySchema, records), async (c) => {
      const { job, id, rank } = c.req.valid("param");
      return c.json(await jobs.commit(job, id, rank, c.req.valid("json").body));
    });
}
