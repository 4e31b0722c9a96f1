// Raw segment ranges over UCX for readers that decode batches themselves (the dataset reader):
// bytes [start, end) of the committed segment `base` of a partition, the same bytes as
// `GET /v1/streams/{name}/partitions/{p}/segments/{base}` with `Range` (docs/datasets.md), every
// whole batch in them CRC32C-verified here. The range starts at a batch (0, or a `next` this
// returned) and lies in the segment's batches (below the trailer's dataLength); a batch cut by
// `end` is left for the next read. When UCX cannot be reached or fails mid-read, the reader says
// why once (onFallback) and reads this and every later range over HTTP.
import { ERROR_STATUS, StrataError, isStrataError, type ErrorCode } from "../../core/errors.ts";
import { readBatchHeader, type BatchHeader } from "../../core/log/batch.ts";
import { UcxSession } from "../../core/ucx/ucx-session.ts";
import { parseUcxUrl } from "../../core/ucx/ucx-url.ts";
import type { UcxRegion } from "../../native/ucx-api.ts";
import { clientWorker, closeClientWorker } from "../../native/ucx.ts";

export interface SegmentRange {
  readonly stream: string;
  readonly partition: number;
  /** The segment's base offset (from GET .../segments). */
  readonly base: number;
  readonly start: number;
  readonly end: number;
}

export interface VerifiedBatch {
  readonly header: BatchHeader;
  /** The whole batch (a view of `bytes`). */
  readonly bytes: Uint8Array;
  /** Its position in the segment. */
  readonly position: number;
}

export interface SegmentRangeRead {
  /** The bytes read, [start, end). */
  readonly bytes: Uint8Array;
  /** The whole batches among them, verified, in order. */
  readonly batches: readonly VerifiedBatch[];
  /** Where the next read starts: after the last whole batch. */
  readonly next: number;
  readonly via: "ucx" | "http";
}

export interface UcxSegmentReaderOptions {
  /** The gateway's HTTP base URL (fallback). */
  readonly gateway: string;
  /** ucx://HOST:PORT (the gateway's --ucx-port). */
  readonly via: string;
  readonly token?: string | undefined;
  /** Time the connection, the hello and each read may take (default 60 s). */
  readonly timeoutMs?: number;
  readonly onFallback?: (message: string) => void;
  /** The fetch for HTTP (default: the global one). */
  readonly fetch?: typeof fetch;
}

type ReaderState =
  | { kind: "idle" }
  | { kind: "connecting"; session: Promise<UcxSession<UcxRegion>> }
  | { kind: "open"; session: UcxSession<UcxRegion> }
  | { kind: "http"; reason: string }
  | { kind: "closed" };

const DEFAULT_TIMEOUT_MS = 60_000;


function isLinkFailure(e: unknown): boolean {
  return isStrataError(e) && (e.code === "UCX_UNAVAILABLE" || e.code === "UCX_TRANSFER_FAILED" || e.code === "UNAVAILABLE");
}

/** The whole batches at the start of `bytes` (read at `start`), each CRC32C-verified. */
export function verifiedBatches(bytes: Uint8Array, start: number): { batches: VerifiedBatch[]; next: number } {
  const batches: VerifiedBatch[] = [];
  let at = 0;
  for (;;) {
    const header = readBatchHeader(bytes.subarray(at), { verifyCrc: true });
    if (header === null) break;
    batches.push({ header, bytes: bytes.subarray(at, at + header.length), position: start + at });
    at += header.length;
  }
  return { batches, next: start + at };
}

function checkRange(r: SegmentRange): void {
  const ok = [r.partition, r.base, r.start, r.end].every((n) => Number.isSafeInteger(n) && n >= 0) && r.start < r.end;
  if (!ok) throw new StrataError("BAD_REQUEST", `segment range [${r.start}, ${r.end}) of ${r.stream}/${r.partition} segment ${r.base} is not a range`);
}

export class UcxSegmentReader {
  #state: ReaderState = { kind: "idle" };

  private readonly options: UcxSegmentReaderOptions;

  constructor(options: UcxSegmentReaderOptions) {
    parseUcxUrl(options.via);
    this.options = options;
  }

  async read(range: SegmentRange): Promise<SegmentRangeRead> {
    checkRange(range);
    if (this.#state.kind === "closed") throw new StrataError("BAD_REQUEST", "the segment reader is closed");
    if (this.#state.kind !== "http") {
      try {
        const session = await this.#session();
        const bytes = await session.request({ t: "segment", stream: range.stream, partition: range.partition, base: range.base, start: range.start, end: range.end });
        return { bytes, ...verifiedBatches(bytes, range.start), via: "ucx" };
      } catch (e) {
        if (!isLinkFailure(e)) throw e;
        await this.#fallBack(e);
      }
    }
    const bytes = await this.#httpRange(range);
    return { bytes, ...verifiedBatches(bytes, range.start), via: "http" };
  }

  async close(): Promise<void> {
    const state = this.#state;
    this.#state = { kind: "closed" };
    if (state.kind === "open") await state.session.close();
    if (state.kind === "connecting") await state.session.then((s) => s.close()).catch(() => undefined);
  }

  async #session(): Promise<UcxSession<UcxRegion>> {
    const state = this.#state;
    if (state.kind === "open") return state.session;
    if (state.kind === "connecting") return state.session;
    invariantIdle(state);
    const opening = this.#connect();
    this.#state = { kind: "connecting", session: opening };
    const session = await opening;
    if (this.#state.kind === "connecting") this.#state = { kind: "open", session };
    return session;
  }

  async #connect(): Promise<UcxSession<UcxRegion>> {
    const { host, port } = parseUcxUrl(this.options.via);
    const w = clientWorker();
    const endpoint = await w.connect(host, port);
    try {
      return await UcxSession.open(endpoint, { allocate: (n) => w.allocate(n), token: this.options.token, maxMessageBytes: w.limits.maxMessageBytes, timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    } catch (e) {
      await endpoint.close().catch(() => undefined);
      throw e;
    }
  }

  async #fallBack(e: unknown): Promise<void> {
    const state = this.#state;
    const reason = e instanceof Error ? e.message : String(e);
    this.#state = { kind: "http", reason };
    if (state.kind === "open") await state.session.close().catch(() => undefined);
    this.options.onFallback?.(`UCX ${this.options.via} failed (${reason}); reading segments over HTTP ${this.options.gateway}`);
  }

  async #httpRange(r: SegmentRange): Promise<Uint8Array> {
    const url = `${this.options.gateway.replace(/\/+$/, "")}/v1/streams/${encodeURIComponent(r.stream)}/partitions/${r.partition}/segments/${r.base}`;
    const headers: Record<string, string> = { range: `bytes=${r.start}-${r.end - 1}` };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    const response = await (this.options.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS) });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 206) throw httpError(response.status, bytes);
    if (bytes.length !== r.end - r.start) throw new StrataError("UNAVAILABLE", `segment range: ${bytes.length} bytes, asked for ${r.end - r.start}`);
    return bytes;
  }
}

function invariantIdle(state: ReaderState): asserts state is { kind: "idle" } {
  if (state.kind !== "idle") throw new StrataError("INTERNAL", `invariant violated: segment reader connecting in state ${state.kind}`);
}

function httpError(status: number, body: Uint8Array): StrataError {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error = parsed.error;
      if (typeof error === "object" && error !== null && "code" in error && "message" in error && typeof error.code === "string" && typeof error.message === "string") {
        const code = error.code;
        if (isKnownCode(code)) return new StrataError(code, error.message);
      }
    }
  } catch {
    // not JSON: the status says enough
  }
  return new StrataError(status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST", `segment range: gateway answered HTTP ${status}`);
}

function isKnownCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** One read, then the session closed: for occasional reads (a reader of many ranges keeps a UcxSegmentReader). */
export async function readSegmentRangeUcx(options: UcxSegmentReaderOptions & SegmentRange): Promise<SegmentRangeRead> {
  const reader = new UcxSegmentReader(options);
  try {
    return await reader.read(options);
  } finally {
    await reader.close();
  }
}

/** Closes this process's UCX worker (after every reader is closed) so the process can exit. */
export async function closeSegmentWorker(): Promise<void> {
  await closeClientWorker();
}
