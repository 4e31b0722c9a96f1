// The HTTP calls a group consumer makes (heartbeat, leave, commit, committed offsets, stream
// ranges, partition reads), over fetch, each answer checked by a schema. A failure answer
// becomes a StrataError with the gateway's code, so callers switch on codes, not statuses.
import { z } from "zod";
import { FAILOVER_CODES } from "../../core/client/failover-fetch.ts";
import { StrataError } from "../../core/errors.ts";
import { heartbeatResponseSchema, type HeartbeatRequest, type HeartbeatResponse } from "../consumers/group-wire.ts";
import { callGateway, type GatewayConnection, jsonRecordFields } from "./gateway-call.ts";

export const groupReadRecordSchema = z.object(jsonRecordFields);
export type GroupReadRecord = z.output<typeof groupReadRecordSchema>;

const readPageSchema = z.object({
  records: z.array(groupReadRecordSchema),
  next_offset: z.number().int().nonnegative(),
  end_offset: z.number().int().nonnegative(),
});
export type GroupReadPage = z.output<typeof readPageSchema> & { readonly bytes: number };

const committedSchema = z.object({ offsets: z.array(z.object({ stream: z.string(), partition: z.number().int(), offset: z.number().int() })) });
const streamRangesSchema = z.object({ partitions: z.array(z.object({ partition: z.number().int(), start_offset: z.number().int(), end_offset: z.number().int() })) });
export type GroupHttpOptions = GatewayConnection;

export interface PartitionRead {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly waitMs: number;
  readonly filter?: string;
  readonly fields?: readonly string[];
  /** The group the read is for: the gateway times it to the commit (docs/anomalies.md). */
  readonly group?: string;
  readonly signal: AbortSignal;
}

/** Whether a failed call may succeed if retried (gateway away or restarting). */
export function isTransientFailure(error: unknown): boolean {
  // FAILOVER_CODES: UNAVAILABLE, and in a cluster a partition's lease moving or the metadata database away.
  if (error instanceof StrataError) return FAILOVER_CODES.has(error.code) || error.code === "INTERNAL" || error.code === "STORAGE_ERROR";
  // fetch's network failures are TypeErrors (Bun, Deno, Node alike), or a DOMException on timeout.
  return error instanceof TypeError || (error instanceof Error && (error.name === "TimeoutError" || /ECONNREFUSED|ECONNRESET|socket/i.test(error.message)));
}

export class GroupHttp {
  readonly #connection: GatewayConnection;

  constructor(options: GroupHttpOptions) {
    this.#connection = options;
  }

  async #call<S extends z.ZodType>(method: string, path: string, schema: S, body: unknown, signal?: AbortSignal): Promise<{ value: z.output<S>; bytes: number }> {
    return callGateway(this.#connection, method, path, schema, body, signal);
  }

  async heartbeat(group: string, request: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatResponse> {
    return (await this.#call("POST", `/v1/groups/${encodeURIComponent(group)}/heartbeat`, heartbeatResponseSchema, request, signal)).value;
  }

  async leave(group: string, member: string): Promise<void> {
    await this.#call("DELETE", `/v1/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(member)}`, z.object({ left: z.literal(true) }), undefined);
  }

  async commit(group: string, commit: { stream: string; partition: number; offset: number; member: string; member_epoch: number }): Promise<void> {
    await this.#call("POST", `/v1/groups/${encodeURIComponent(group)}/offsets`, z.object({ offset: z.number() }), commit);
  }

  /** The group's committed offsets on `stream`, by partition. */
  async committed(group: string, stream: string, signal?: AbortSignal): Promise<Map<number, number>> {
    const { value } = await this.#call("GET", `/v1/groups/${encodeURIComponent(group)}/offsets?stream=${encodeURIComponent(stream)}`, committedSchema, undefined, signal);
    return new Map(value.offsets.filter((o) => o.stream === stream).map((o) => [o.partition, o.offset]));
  }

  /** Each partition's retained range [start_offset, end_offset). */
  async ranges(stream: string, signal?: AbortSignal): Promise<Map<number, { start_offset: number; end_offset: number }>> {
    const { value } = await this.#call("GET", `/v1/streams/${encodeURIComponent(stream)}`, streamRangesSchema, undefined, signal);
    return new Map(value.partitions.map((p) => [p.partition, p]));
  }

  async read(r: PartitionRead): Promise<GroupReadPage> {
    const query = new URLSearchParams({ offset: String(r.offset), max_records: String(r.maxRecords), max_bytes: String(r.maxBytes) });
    if (r.waitMs > 0) query.set("wait_ms", String(r.waitMs));
    if (r.filter !== undefined) query.set("filter", r.filter);
    if (r.fields !== undefined) query.set("fields", r.fields.join(","));
    if (r.group !== undefined) query.set("group", r.group);
    const path = `/v1/streams/${encodeURIComponent(r.stream)}/partitions/${r.partition}/records?${query}`;
    const { value, bytes } = await this.#call("GET", path, readPageSchema, undefined, r.signal);
    return { ...value, bytes };
  }
}
