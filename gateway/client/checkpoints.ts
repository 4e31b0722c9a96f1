// Checkpoints from the client library (docs/checkpoints.md): commit a rank's shard, list the
// complete checkpoints, set a job's keep, and the two a training loop calls: saveCheckpoint
// (upload the shard's bytes through POST /v1/artefacts, which chunks and deduplicates them on
// the gateway, then commit) and loadCheckpoint (the newest complete checkpoint, or a named one,
// and this rank's shard and state).
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, StrataError } from "../../core/errors.ts";
import { checkpointListSchema, checkpointSchema, commitRankAnswerSchema, jobKeepSchema, type Checkpoint, type CheckpointRank, type CommitRankAnswer, type RankState } from "../jobs/job-wire.ts";
import { callGateway, type GatewayConnection } from "./gateway-call.ts";

/** A token and, optionally, the fetch to use (e.g. one trusting a private CA). */
export interface CheckpointCallOptions {
  readonly token?: string;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

export interface CommitRankOptions extends CheckpointCallOptions {
  readonly job: string;
  readonly id: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly step: number;
  /** The manifest id of the rank's shard, already stored on the gateway. */
  readonly artefact: string;
  /** A JSON object saved with the shard (data-loader state, stream offsets, ...). */
  readonly state?: RankState;
}

export interface SaveCheckpointOptions extends Omit<CommitRankOptions, "artefact"> {
  readonly data: Uint8Array;
}

export interface SavedCheckpoint {
  readonly commit: CommitRankAnswer;
  /** The upload's answer: the shard's manifest id, and how much of it was new to the gateway. */
  readonly upload: UploadAnswer;
}

export interface LoadCheckpointOptions extends CheckpointCallOptions {
  readonly job: string;
  readonly rank: number;
  /** A checkpoint id; the newest complete checkpoint when absent. */
  readonly id?: string;
}

export interface LoadedCheckpoint {
  /** The whole checkpoint (every rank's artefact and state). */
  readonly meta: Checkpoint;
  /** This rank's entry of it. */
  readonly rank: CheckpointRank;
  /** The rank's shard, as saved. */
  readonly data: Uint8Array;
}

const uploadAnswerSchema = z.object({ id: z.string().regex(/^[0-9a-f]{64}$/), size: z.number(), chunks: z.number(), new_chunks: z.number(), new_bytes: z.number() });
export type UploadAnswer = z.output<typeof uploadAnswerSchema>;
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function connection(baseUrl: string, options: CheckpointCallOptions): GatewayConnection {
  return { gateway: baseUrl, ...(options.token === undefined ? {} : { token: options.token }), ...(options.fetch === undefined ? {} : { fetch: options.fetch }) };
}

const seg = encodeURIComponent;

export async function commitCheckpointRank(baseUrl: string, options: CommitRankOptions): Promise<CommitRankAnswer> {
  const body = { artefact: options.artefact, world_size: options.worldSize, step: options.step, ...(options.state === undefined ? {} : { state: options.state }) };
  const path = `/v1/jobs/${seg(options.job)}/checkpoints/${seg(options.id)}/ranks/${options.rank}`;
  return (await callGateway(connection(baseUrl, options), "PUT", path, commitRankAnswerSchema, body, options.signal)).value;
}

/** The job's complete checkpoints, newest first. */
export async function listCheckpoints(baseUrl: string, job: string, options: CheckpointCallOptions = {}): Promise<Checkpoint[]> {
  return (await callGateway(connection(baseUrl, options), "GET", `/v1/jobs/${seg(job)}/checkpoints`, checkpointListSchema, undefined, options.signal)).value.checkpoints;
}

/** The newest complete checkpoint, or the one named; NOT_FOUND when there is none. */
export async function latestCheckpoint(baseUrl: string, job: string, options: CheckpointCallOptions & { readonly id?: string } = {}): Promise<Checkpoint> {
  const path = `/v1/jobs/${seg(job)}/checkpoints/${options.id === undefined ? "latest" : seg(options.id)}`;
  return (await callGateway(connection(baseUrl, options), "GET", path, checkpointSchema, undefined, options.signal)).value;
}

/** How many complete checkpoints the job keeps; older ones are released to artefact GC. */
export async function setJobKeep(baseUrl: string, job: string, keep: number, options: CheckpointCallOptions = {}): Promise<{ job: string; keep: number }> {
  return (await callGateway(connection(baseUrl, options), "PUT", `/v1/jobs/${seg(job)}`, jobKeepSchema, { keep }, options.signal)).value;
}

/** Uploads the shard (only chunks the gateway lacks are stored) and commits it as this rank's. */
export async function saveCheckpoint(baseUrl: string, options: SaveCheckpointOptions): Promise<SavedCheckpoint> {
  const response = await raw(baseUrl, options, "POST", "/v1/artefacts?media_type=application%2Foctet-stream", options.data);
  const parsed = uploadAnswerSchema.safeParse(await response.json());
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `POST /v1/artefacts: unexpected answer: ${parsed.error.issues[0]?.message ?? "malformed"}`);
  const commit = await commitCheckpointRank(baseUrl, { ...options, artefact: parsed.data.id });
  return { commit, upload: parsed.data };
}

/** The newest complete checkpoint (or the one named) and this rank's shard and state. */
export async function loadCheckpoint(baseUrl: string, options: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const meta = await latestCheckpoint(baseUrl, options.job, options);
  const rank = meta.ranks.find((r) => r.rank === options.rank);
  if (rank === undefined) throw new StrataError("NOT_FOUND", `checkpoint '${meta.id}' of job '${meta.job}' has ranks 0..${meta.world_size - 1}, not rank ${options.rank}`);
  const response = await raw(baseUrl, options, "GET", `/v1/artefacts/${rank.artefact}`);
  return { meta, rank, data: new Uint8Array(await response.arrayBuffer()) };
}

/** A call whose body or answer is raw bytes; a refusal becomes a StrataError with the gateway's code. */
async function raw(baseUrl: string, options: CheckpointCallOptions, method: string, path: string, body?: Uint8Array): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) headers["content-type"] = "application/octet-stream";
  const url = `${baseUrl.replace(/\/+$/, "")}${path}`;
  const init: RequestInit = { method, headers, ...(body === undefined ? {} : { body: onArrayBuffer(body) }), ...(options.signal ? { signal: options.signal } : {}) };
  const response = await (options.fetch ?? fetch)(url, init);
  if (response.ok) return response;
  const failure = errorSchema.safeParse(await response.json().catch(() => null));
  const fallback: ErrorCode = response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST";
  if (!failure.success) throw new StrataError(fallback, `${method} ${url}: HTTP ${response.status}`);
  const code = failure.data.error.code;
  throw new StrataError(isErrorCode(code) ? code : fallback, failure.data.error.message);
}

/** The same bytes over an ArrayBuffer, as fetch takes them (a copy only for bytes over a SharedArrayBuffer). */
function onArrayBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.slice();
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}
