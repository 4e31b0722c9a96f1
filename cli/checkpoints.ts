// `strata checkpoints list|show|pull|keep`: a training job's complete checkpoints
// (docs/checkpoints.md). `pull` fetches one rank's shard through the local chunk cache, like
// `strata pull`: only chunks missing from the cache move, every chunk is verified, OUT is
// replaced atomically.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { pullArtefact, summaryJson } from "../edge/artefacts/index.ts";
import { checkpointIdSchema, checkpointListSchema, checkpointSchema, jobKeepSchema, jobNameSchema, type Checkpoint } from "../gateway/jobs/job-wire.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, singleHttpUrlText } from "./gateway-url.ts";
import { integerText, sizeText } from "./option-schemas.ts";
import { formatBytes } from "./progress-bar.ts";
import { defaultCacheDir } from "./pull.ts";
import { writeOut } from "./stdout.ts";
import { addTransferOptions, runTransfer, transferOpts } from "./transfer-options.ts";

const clientOpts = { gateway: singleHttpUrlText, token: tokenText, ca: caFileText };

/** A checkpoint as printed: completed_at in ISO 8601 unless --json. */
function shown(checkpoint: Checkpoint, json: boolean): Record<string, unknown> {
  return json ? checkpoint : { ...checkpoint, completed_at: new Date(checkpoint.completed_at).toISOString() };
}

/** The named checkpoint, or the newest complete one. */
async function fetchCheckpoint(opts: z.output<z.ZodObject<typeof clientOpts>>, job: string, id: string | undefined): Promise<Checkpoint> {
  const checkpoints = clientFor(opts.gateway, opts.token, opts.ca).v1.jobs[":job"].checkpoints;
  if (id === undefined) return expectOk(await checkpoints.latest.$get({ param: { job } }), checkpointSchema, `latest checkpoint of job ${job}`);
  return expectOk(await checkpoints[":id"].$get({ param: { job, id } }), checkpointSchema, `checkpoint ${id} of job ${job}`);
}

export function registerCheckpoints(program: Command): void {
  const checkpoints = program
    .command("checkpoints")
    .summary("list, show and pull a training job's checkpoints, and set how many it keeps")
    .description("A job's checkpoints are visible once every rank committed its shard (docs/checkpoints.md).");

  const list = checkpoints
    .command("list")
    .description("List the job's complete checkpoints, newest first (one line each: id, step, world size, completion time).")
    .argument("<JOB>", "the job's name")
    .option("--json", 'print {"job", "checkpoints": [...]} as the gateway answers it')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([jobNameSchema]), opts: z.object({ json: z.boolean().default(false), ...clientOpts }) }, async ([job], opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.jobs[":job"].checkpoints.$get({ param: { job } }), checkpointListSchema, `list checkpoints of job ${job}`);
      if (opts.json) await writeOut(`${JSON.stringify(answer)}\n`);
      else await writeOut(answer.checkpoints.map((c) => `${c.id}\tstep=${c.step}\tworld_size=${c.world_size}\tcompleted_at=${new Date(c.completed_at).toISOString()}\n`).join(""));
      return 0;
    }),
  );

  const show = checkpoints
    .command("show")
    .description("Show a complete checkpoint (the newest when ID is not given): every rank's artefact and state, as JSON.")
    .argument("<JOB>", "the job's name")
    .argument("[ID]", "a checkpoint id (default: the newest complete one)")
    .option("--json", "print completed_at as milliseconds")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(show, { args: z.tuple([jobNameSchema, checkpointIdSchema.optional()]), opts: z.object({ json: z.boolean().default(false), ...clientOpts }) }, async ([job, id], opts) =>
    withGateway(opts.gateway, async () => {
      await writeOut(`${JSON.stringify(shown(await fetchCheckpoint(opts, job, id), opts.json))}\n`);
      return 0;
    }),
  );

  const pull = checkpoints
    .command("pull")
    .description("Fetch one rank's shard of a complete checkpoint (the newest when ID is not given) into OUT, through the local chunk cache.")
    // JOB [ID] OUT: commander has no optional argument before a required one, so the second
    // argument is OUT when there are two, ID when there are three.
    .usage("[options] JOB [ID] OUT")
    .argument("<JOB>", "the job's name")
    .argument("<ID|OUT>", "a checkpoint id (default: the newest complete one), then OUT")
    .argument("[OUT]", "the file to write")
    .requiredOption("--rank <R>", "the rank whose shard to fetch")
    .option("--cache <DIR>", "chunk cache (default $STRATA_CACHE, else ~/.cache/strata/chunks)", defaultCacheDir())
    .option("--cache-size <SIZE>", "cache bound, least recently used chunks evicted (K/M/G suffixes)", "8G");
  addTransferOptions(pull, "downloads").addOption(gatewayOption()).addOption(tokenOption()).addOption(caOption());
  const pullOpts = z.object({ rank: integerText(0), cache: z.string(), cacheSize: sizeText, ...transferOpts, ...clientOpts });
  const pullArgs = z.union([z.tuple([jobNameSchema, checkpointIdSchema, z.string()]), z.tuple([jobNameSchema, z.string()]).transform(([job, out]) => [job, undefined, out] as const)]);
  defineAction(pull, { args: pullArgs, opts: pullOpts }, async ([job, id, out], opts) =>
    withGateway(opts.gateway, async () => {
      const checkpoint = await fetchCheckpoint(opts, job, id);
      const rank = checkpoint.ranks.find((r) => r.rank === opts.rank);
      if (rank === undefined) throw new StrataError("NOT_FOUND", `checkpoint ${checkpoint.id} of job ${job} has ranks 0..${checkpoint.world_size - 1}, not rank ${opts.rank}`);
      mkdirSync(dirname(out), { recursive: true });
      const summary = await runTransfer("pull", opts, (onProgress) =>
        pullArtefact({
          gateway: opts.gateway,
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
          source: rank.artefact,
          out,
          cacheDir: opts.cache,
          cacheMaxBytes: opts.cacheSize,
          limits: { maxBytesPerSecond: opts.limitRate ?? 0 },
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          onProgress,
        }),
      );
      if (opts.json) await writeOut(`${JSON.stringify({ job, id: checkpoint.id, step: checkpoint.step, rank: rank.rank, state: rank.state, ...summaryJson(summary) })}\n`);
      else if (!opts.quiet) {
        await writeOut(
          `pulled rank ${rank.rank} of checkpoint ${checkpoint.id} (step ${checkpoint.step}) of job ${job} into ${summary.out}: ${formatBytes(summary.bytesTotal)}, received ` +
            `${formatBytes(summary.bytesTransferred)} in ${summary.chunksTransferred} of ${summary.chunksTotal} chunks, ${summary.seconds.toFixed(2)} s\n`,
        );
      }
      return 0;
    }),
  );

  const keep = checkpoints
    .command("keep")
    .description("Keep the job's newest N complete checkpoints; older ones are released to artefact GC.")
    .argument("<JOB>", "the job's name")
    .argument("<N>", "how many complete checkpoints to keep (at least 1)")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(keep, { args: z.tuple([jobNameSchema, integerText(1)]), opts: z.object(clientOpts) }, async ([job, n], opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.jobs[":job"].$put({ param: { job }, json: { keep: n } }), jobKeepSchema, `set keep of job ${job}`);
      await writeOut(`${JSON.stringify(answer)}\n`);
      return 0;
    }),
  );
}
