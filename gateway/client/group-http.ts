// The HTTP calls a group consumer makes (heartbeat, leave, commit, committed offsets, stream
// ranges, partition reads), over fetch, each answer checked by a schema. A failure answer
// becomes a StrataError with the gateway's code, so callers switch on codes, not statuses.
import { z } from "zod";
import { type ErrorCode, ERROR_STATUS, StrataError } from "../../core/errors.ts";
import { heartbeatResponseSchema, type HeartbeatRequest, type HeartbeatResponse } from "../consumers/group-wire.ts";

const jsonBytes = z.object({ $base64: z.string() });

export const groupReadRecordSchema = z.object({
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  key: jsonBytes.nullable(),
  headers: z.record(z.string(), z.union([z.string(), jsonBytes])),
  fields: z.record(z.string(), z.unknown()),
});
export type GroupReadRecord = z.output<typeof groupReadRecordSchema>;

const readPageSchema = z.object({
  records: z.array(groupReadRecordSchema),
  next_offset: z.number().int().nonnegative(),
  end_offset: z.number().int().nonnegative(),
});
export type GroupReadPage = z.output<typeof readPageSchema> & { readonly bytes: number };

const committedSchema = z.object({ offsets: z.array(z.object({ stream: z.string(), partition: z.number().int(), offset: z.number().int() })) });
const streamRangesSchema = z.object({ partitions: z.array(z.object({ partition: z.number().int(), start_offset: z.number().int(), end_offset: z.number().int() })) });
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

export interface GroupHttpOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  readonly gateway: string;
  readonly token?: string;
  /** The fetch to use (e.g. one trusting a private CA); the global one by default. */
  readonly fetch?: typeof fetch;
}

export interface PartitionRead {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly waitMs: number;
  readonly filter?: string;
  readonly fields?: readonly string[];
  readonly signal: AbortSignal;
}

/** Whether a failed call may succeed if retried (gateway away or restarting). */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof StrataError) return error.code === "UNAVAILABLE" || error.code === "INTERNAL" || error.code === "STORAGE_ERROR";
  // fetch's network failures are TypeErrors (Bun, Deno, Node alike), or a DOMException on timeout.
  return error instanceof TypeError || (error instanceof Error && (error.name === "TimeoutError" || /ECONNREFUSED|ECONNRESET|socket/i.test(error.message)));
}

export class GroupHttp {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: GroupHttpOptions) {
    this.#base = options.gateway.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? fetch;
  }

  async #call<S extends z.ZodType>(method: string, path: string, schema: S, body: unknown, signal?: AbortSignal): Promise<{ value: z.output<S>; bytes: number }> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const response = await this.#fetch(`${this.#base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(signal ? { signal } : {}) });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StrataError(response.ok ? "INTERNAL" : "UNAVAILABLE", `${method} ${path}: ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const failure = errorSchema.safeParse(json);
      if (failure.success && isErrorCode(failure.data.error.code)) throw new StrataError(failure.data.error.code, failure.data.error.message);
      throw new StrataError(response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST", `${method} ${path}: ${response.status}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new StrataError("INTERNAL", `${method} ${path}: unexpected answer: ${parsed.error.message}`);
    return { value: parsed.data, bytes: text.length };
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
    const path = `/v1/streams/${encodeURIComponent(r.stream)}/partitions/${r.partition}/records?${query}`;
    const { value, bytes } = await this.#call("GET", path, readPageSchema, undefined, r.signal);
    return { ...value, bytes };
  }
}
