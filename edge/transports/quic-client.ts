// The client of the QUIC protocol (docs/quic-protocol.md) under Bun and Deno: hello with
// version negotiation, requests on the control stream within the server's credit window,
// chunk uploads and downloads on their own bulk streams.
import { Encoder } from "@msgpack/msgpack";
import { ChunkFrameParser, type FramedChunk } from "../../core/artefacts/chunk-frames.ts";
import { ERROR_STATUS, StrataError, type ErrorCode } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { FrameWriter } from "../../core/quic/frame-writer.ts";
import { decodeFramePayload, DEFAULT_MAX_FRAME_BYTES, encodeFrame, frameHeader, QUIC_PROTOCOL_VERSIONS, type Frame } from "../../core/quic/frames.ts";
import { FRAME, parseHelloOk, uint, type HelloOk } from "../../core/quic/messages.ts";
import { FrameReader, QUIC_CODE_CANCELLED, type QuicConnection } from "../../core/quic/stream.ts";
import type { Acks, Fields, Headers, ProducerRef } from "../../core/log/record.ts";
import { connectQuic, type QuicConnectOptions } from "../../runtime/quic/connect.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";

export interface QuicClientOptions extends QuicConnectOptions {
  /** Sent in hello when the gateway requires one. */
  readonly token?: string;
  /** Largest frame this client accepts (announced in hello). */
  readonly maxFrameBytes?: number;
  /** Versions offered in hello (default: all this code speaks). */
  readonly versions?: readonly number[];
  /** A request unanswered for this long fails and closes the connection (fetch adds its wait_ms). */
  readonly requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export interface PublishRecord {
  readonly key?: string | Uint8Array | null;
  readonly partition?: number;
  readonly headers?: Headers;
  readonly fields: Fields;
}

export interface RecordPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface FetchRequest {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxRecords?: number;
  readonly maxBytes?: number;
  readonly waitMs?: number;
  readonly fields?: readonly string[];
}

export interface FetchedRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly headers: Headers;
  readonly fields: Fields;
}

export interface FetchResult {
  readonly records: FetchedRecord[];
  readonly nextOffset: number;
  readonly endOffset: number;
}

export interface CommittedOffset {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly updated_at: number;
}

export interface StreamInfo {
  readonly name: string;
  readonly partitions: { readonly partition: number; readonly start_offset: number; readonly end_offset: number; readonly bytes: number }[];
}

export interface PublishAnswer {
  readonly positions: RecordPosition[];
  /** Frame bytes sent and received for this request (for bandwidth accounting). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** An error frame as a StrataError (unknown codes become INTERNAL, the original kept in the message). */
export function frameError(frame: Frame): StrataError {
  const code = typeof frame.code === "string" && frame.code in ERROR_STATUS ? (frame.code as ErrorCode) : "INTERNAL";
  const message = typeof frame.message === "string" ? frame.message : "error frame without a message";
  return new StrataError(code, code === frame.code ? message : `${String(frame.code)}: ${message}`);
}

interface Pending {
  resolve(answer: { frame: Frame; bytes: number }): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

const headEncoder = new Encoder({ extensionCodec, ignoreUndefined: true });

/** A frame whose `records` entry is `count` MessagePack values already encoded back to back. */
function frameWithRecords(head: Frame, count: number, recordBytes: Uint8Array, maxFrameBytes: number): Uint8Array[] {
  const encodedHead = headEncoder.encode(head);
  const entries = Object.values(head).filter((v) => v !== undefined).length;
  if (entries + 1 > 15 || encodedHead[0] !== (0x80 | entries)) throw new StrataError("INTERNAL", "publish head must be a small map");
  const key = Uint8Array.of(0xa7, ...new TextEncoder().encode("records"));
  const arrayHeader = count < 16 ? Uint8Array.of(0x90 | count) : count < 0x10000 ? Uint8Array.of(0xdc, count >> 8, count & 0xff) : Uint8Array.of(0xdd, count >>> 24, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff);
  const size = encodedHead.length + key.length + arrayHeader.length + recordBytes.length;
  if (size > maxFrameBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `a publish frame of ${size} bytes exceeds the gateway's ${maxFrameBytes}-byte frame limit`);
  const head2 = new Uint8Array(encodedHead);
  head2[0] = 0x80 | (entries + 1);
  return [frameHeader(size), head2, key, arrayHeader, recordBytes];
}

export class QuicClient {
  readonly #connection: QuicConnection;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #hello: HelloOk;
  readonly #timeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #pending = new Map<number, Pending>();
  readonly #creditWaiters: (() => void)[] = [];
  #bulkOpen = 0;
  readonly #bulkWaiters: (() => void)[] = [];
  #nextId = 0;
  #failure: StrataError | undefined;
  readonly closed: Promise<void>;

  private constructor(connection: QuicConnection, writer: FrameWriter, reader: FrameReader, hello: HelloOk, options: QuicClientOptions) {
    this.#connection = connection;
    this.#writer = writer;
    this.#reader = reader;
    this.#hello = hello;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.closed = connection.closed;
    void connection.closed.then(() => this.#fail(new StrataError("UNAVAILABLE", "QUIC connection closed")));
    void this.#readAnswers();
  }

  /** Connects, sends hello and waits for hello-ok (or the error frame that refuses it). */
  static async connect(options: QuicClientOptions): Promise<QuicClient> {
    const connection = await connectQuic(options);
    try {
      const control = await connection.openBidi();
      const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
      const writer = new FrameWriter(control, DEFAULT_MAX_FRAME_BYTES);
      const reader = new FrameReader(control.chunks, maxFrameBytes);
      await writer.send({ t: FRAME.hello, versions: [...(options.versions ?? QUIC_PROTOCOL_VERSIONS)], max_frame_bytes: maxFrameBytes, ...(options.token !== undefined ? { token: options.token } : {}) });
      const first = await reader.next();
      if (first === null) throw new StrataError("UNAVAILABLE", "the gateway closed the control stream without answering hello");
      if (first.t === FRAME.error) throw frameError(first);
      const hello = parseHelloOk(first);
      writer.maxFrameBytes = hello.maxFrameBytes;
      return new QuicClient(connection, writer, reader, hello, options);
    } catch (e) {
      await connection.close(QUIC_CODE_CANCELLED, "hello failed");
      throw e;
    }
  }

  /** The negotiated version and the gateway's limits. */
  get session(): HelloOk {
    return this.#hello;
  }

  async publish(stream: string, body: { records: readonly PublishRecord[]; producer?: ProducerRef }, acks: Acks = "local"): Promise<RecordPosition[]> {
    const { frame } = await this.#request({ t: FRAME.publish, stream, acks, records: body.records, ...(body.producer ? { producer: body.producer } : {}) });
    return positionsOf(frame);
  }

  /** Publishes `count` records already encoded back to back (the edge outbox's form), without re-encoding them. */
  async publishEncoded(stream: string, count: number, recordBytes: Uint8Array, producer: ProducerRef | null, acks: Acks = "local"): Promise<PublishAnswer> {
    const { frame, bytes, sent } = await this.#requestRaw((id) =>
      frameWithRecords({ t: FRAME.publish, id, stream, acks, ...(producer ? { producer } : {}) }, count, recordBytes, this.#hello.maxFrameBytes),
    );
    return { positions: positionsOf(frame), bytesSent: sent, bytesReceived: bytes };
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    const { frame } = await this.#request(
      {
        t: FRAME.fetch,
        stream: request.stream,
        partition: request.partition,
        offset: request.offset,
        max_records: request.maxRecords,
        max_bytes: request.maxBytes,
        wait_ms: request.waitMs,
        fields: request.fields,
      },
      request.waitMs ?? 0,
    );
    if (frame.t !== FRAME.records || !Array.isArray(frame.records)) throw new StrataError("CORRUPT_DATA", `expected records, got '${frame.t}'`);
    return { records: frame.records as FetchedRecord[], nextOffset: uint(frame.next_offset, "next_offset"), endOffset: uint(frame.end_offset, "end_offset") };
  }

  async commit(group: string, position: { stream: string; partition: number; offset: number }): Promise<CommittedOffset> {
    const { frame } = await this.#request({ t: FRAME.commit, group, stream: position.stream, partition: position.partition, offset: position.offset });
    if (frame.t !== FRAME.committed) throw new StrataError("CORRUPT_DATA", `expected committed, got '${frame.t}'`);
    return { stream: String(frame.stream), partition: uint(frame.partition, "partition"), offset: uint(frame.offset, "offset"), updated_at: uint(frame.updated_at, "updated_at") };
  }

  /** The stream's partitions and their offsets (GET /v1/streams/{name}). */
  async streamInfo(stream: string): Promise<StreamInfo> {
    return streamOf((await this.#request({ t: FRAME.streamInfo, stream })).frame);
  }

  /** Creates a stream (STREAM_EXISTS if it exists). */
  async createStream(name: string, options: { partitions?: number; retention?: { ms?: number; bytes?: number } } = {}): Promise<StreamInfo> {
    return streamOf((await this.#request({ t: FRAME.streamCreate, name, partitions: options.partitions, retention: options.retention })).frame);
  }

  /** The exact bytes of a stored manifest (id: 64 hex); check them against the id before use. */
  async getManifest(id: string): Promise<Uint8Array> {
    const { frame } = await this.#request({ t: FRAME.manifestGet, manifest: id });
    if (frame.t !== FRAME.manifest || !(frame.bytes instanceof Uint8Array)) throw new StrataError("CORRUPT_DATA", `expected manifest, got '${frame.t}'`);
    return frame.bytes;
  }

  /** The hashes (32 bytes each) the gateway does not hold, in request order. */
  async missingChunks(hashes: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const { frame } = await this.#request({ t: FRAME.chunksMissing, hashes });
    if (frame.t !== FRAME.missing || !Array.isArray(frame.missing)) throw new StrataError("CORRUPT_DATA", `expected missing, got '${frame.t}'`);
    return frame.missing as Uint8Array[];
  }

  /** Uploads chunks on a bulk stream (at most session.maxChunksPerFrame, within the frame limit). */
  async putChunks(chunks: readonly FramedChunk[]): Promise<{ stored: number; existing: number }> {
    return this.#bulk(async (writer, reader) => {
      await writer.send({ t: FRAME.chunksPut, chunks: chunks.map((c) => [c.hash, c.data]) });
      await writer.end();
      const answer = await reader.next();
      if (answer === null) throw new StrataError("UNAVAILABLE", "bulk stream ended without an answer");
      if (answer.t === FRAME.error) throw frameError(answer);
      if (answer.t !== FRAME.stored) throw new StrataError("CORRUPT_DATA", `expected stored, got '${answer.t}'`);
      return { stored: uint(answer.stored, "stored"), existing: uint(answer.existing, "existing") };
    });
  }

  /**
   * Downloads chunks on a bulk stream, in request order. The gateway verified them; callers
   * that must not trust the link verify each against its hash. A stream cut short throws.
   */
  async *getChunks(hashes: readonly Uint8Array[]): AsyncGenerator<FramedChunk> {
    const release = await this.#acquireBulk();
    const stream = await this.#connection.openBidi().catch((e: unknown) => {
      release();
      throw e;
    });
    let finished = false;
    try {
      const writer = new FrameWriter(stream, this.#hello.maxFrameBytes);
      const reader = new FrameReader(stream.chunks, this.#maxFrameBytes);
      await writer.send({ t: FRAME.chunksGet, hashes });
      await writer.end();
      const head = await reader.next();
      if (head === null) throw new StrataError("UNAVAILABLE", "bulk stream ended without an answer");
      if (head.t === FRAME.error) throw frameError(head);
      if (head.t !== FRAME.chunks) throw new StrataError("CORRUPT_DATA", `expected chunks, got '${head.t}'`);
      const parser = new ChunkFrameParser(this.#hello.maxChunkBytes);
      let received = 0;
      for await (const bytes of reader.raw()) {
        for (const chunk of parser.push(bytes)) {
          const expected = hashes[received++];
          if (!expected || !equalBytes(expected, chunk.hash)) throw new StrataError("CORRUPT_DATA", `chunk ${received - 1} is not the one requested`);
          yield chunk;
        }
      }
      parser.end();
      if (received !== hashes.length) throw new StrataError("UNAVAILABLE", `chunk stream ended after ${received} of ${hashes.length} chunks`);
      finished = true;
    } finally {
      if (!finished) stream.abort(QUIC_CODE_CANCELLED);
      release();
    }
  }

  async close(): Promise<void> {
    this.#fail(new StrataError("UNAVAILABLE", "QUIC client closed"));
    await this.#writer.end().catch(() => undefined);
    await this.#connection.close(0, "client closing");
  }

  // ---- internals ----

  #fail(error: StrataError): void {
    this.#failure ??= error;
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(this.#failure);
    }
    this.#pending.clear();
    for (const wake of this.#creditWaiters.splice(0)) wake();
    for (const wake of this.#bulkWaiters.splice(0)) wake();
  }

  async #readAnswers(): Promise<void> {
    try {
      for (;;) {
        const payload = await this.#reader.nextPayload();
        if (payload === null) break;
        const frame = decodeFramePayload(payload);
        if (frame.t === FRAME.error && frame.id === undefined) {
          this.#fail(frameError(frame));
          continue;
        }
        const id = typeof frame.id === "number" ? frame.id : -1;
        const pending = this.#pending.get(id);
        if (!pending) continue;
        this.#pending.delete(id);
        clearTimeout(pending.timer);
        if (frame.t === FRAME.error) pending.reject(frameError(frame));
        else pending.resolve({ frame, bytes: payload.length + 4 });
        this.#creditWaiters.shift()?.();
      }
      this.#fail(new StrataError("UNAVAILABLE", "the gateway closed the control stream"));
    } catch (e) {
      this.#fail(e instanceof StrataError ? e : new StrataError("UNAVAILABLE", `control stream failed: ${(e as Error).message}`));
    }
    await this.#connection.close(QUIC_CODE_CANCELLED, "control stream ended");
  }

  async #acquireCredit(): Promise<void> {
    while (this.#pending.size >= this.#hello.maxInFlight && !this.#failure) await new Promise<void>((resolve) => this.#creditWaiters.push(resolve));
    if (this.#failure) throw this.#failure;
  }

  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = (this.#nextId + 1) % 0x1_0000_0000;
      if (!this.#pending.has(id)) return id;
    }
  }

  async #request(frame: Frame, extraWaitMs = 0): Promise<{ frame: Frame; bytes: number }> {
    const { frame: answer, bytes } = await this.#requestRaw((id) => [encodeFrame({ ...frame, id }, this.#hello.maxFrameBytes)], extraWaitMs);
    return { frame: answer, bytes };
  }

  async #requestRaw(build: (id: number) => Uint8Array[], extraWaitMs = 0): Promise<{ frame: Frame; bytes: number; sent: number }> {
    await this.#acquireCredit();
    const id = this.#allocateId();
    const pieces = build(id);
    const sent = pieces.reduce((n, p) => n + p.length, 0);
    const answer = new Promise<{ frame: Frame; bytes: number }>((resolve, reject) => {
      const timeoutMs = this.#timeoutMs + extraWaitMs;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new StrataError("UNAVAILABLE", `no answer within ${timeoutMs} ms`));
        void this.#connection.close(QUIC_CODE_CANCELLED, "request timed out");
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    this.#writer.sendRaw(pieces).catch((e: unknown) => this.#fail(new StrataError("UNAVAILABLE", `sending on the control stream failed: ${(e as Error).message}`)));
    return { ...(await answer), sent };
  }

  async #acquireBulk(): Promise<() => void> {
    while (this.#bulkOpen >= this.#hello.maxBulkStreams && !this.#failure) await new Promise<void>((resolve) => this.#bulkWaiters.push(resolve));
    if (this.#failure) throw this.#failure;
    this.#bulkOpen++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#bulkOpen--;
      this.#bulkWaiters.shift()?.();
    };
  }

  async #bulk<T>(run: (writer: FrameWriter, reader: FrameReader) => Promise<T>): Promise<T> {
    const release = await this.#acquireBulk();
    try {
      const stream = await this.#connection.openBidi();
      try {
        return await run(new FrameWriter(stream, this.#hello.maxFrameBytes), new FrameReader(stream.chunks, this.#maxFrameBytes));
      } catch (e) {
        stream.abort(QUIC_CODE_CANCELLED);
        throw e;
      }
    } finally {
      release();
    }
  }
}

function streamOf(frame: Frame): StreamInfo {
  if (frame.t !== FRAME.stream || typeof frame.name !== "string" || !Array.isArray(frame.partitions)) throw new StrataError("CORRUPT_DATA", `expected stream, got '${frame.t}'`);
  return {
    name: frame.name,
    partitions: (frame.partitions as unknown[]).map((p, i) => {
      const q = p as Record<string, unknown>;
      return { partition: uint(q.partition, `partitions[${i}].partition`), start_offset: uint(q.start_offset, "start_offset"), end_offset: uint(q.end_offset, "end_offset"), bytes: uint(q.bytes, "bytes") };
    }),
  };
}

function positionsOf(frame: Frame): RecordPosition[] {
  if (frame.t !== FRAME.ack || !Array.isArray(frame.records)) throw new StrataError("CORRUPT_DATA", `expected ack, got '${frame.t}'`);
  return (frame.records as unknown[]).map((r, i) => {
    const p = r as { partition?: unknown; offset?: unknown };
    return { partition: uint(p.partition, `records[${i}].partition`), offset: uint(p.offset, `records[${i}].offset`) };
  });
}

