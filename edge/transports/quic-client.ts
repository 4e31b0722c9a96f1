// The client of the QUIC protocol (docs/quic-protocol.md) under Bun and Deno: hello with
// version negotiation, requests on the control stream within the server's credit window,
// chunk uploads and downloads on their own bulk streams. Every frame goes out through the
// protocol module's encode and every answer comes in through its parse: the types below are
// the protocol's messages, not copies of them.
import { ChunkFrameParser, type FramedChunk } from "../../core/artefacts/chunk-frames.ts";
import { StrataError } from "../../core/errors.ts";
import type { Acks, ProducerRef } from "../../core/log/record.ts";
import { FrameWriter } from "../../core/quic/frame-writer.ts";
import { decodeFramePayload, DEFAULT_MAX_FRAME_BYTES, FRAME_LENGTH_BYTES, QUIC_PROTOCOL_VERSIONS, type Frame } from "../../core/quic/frames.ts";
import { EncodedItems, encodeMessage, piecesLength, type OutgoingMessage } from "../../core/quic/message-encoding.ts";
import {
  errorFromMessage,
  isOneOf,
  parseMessage,
  requestIdOf,
  sessionOf,
  type AckMessage,
  type CommittedMessage,
  type FetchMessage,
  type Message,
  type MessageOf,
  type MessageType,
  type PublishMessage,
  type LatestMessage,
  type LatestRecordsMessage,
  type RecordsMessage,
  type Session,
  type StreamCreateMessage,
  type StreamMessage,
} from "../../core/quic/messages.ts";
import { FrameReader, QUIC_CODE_CANCELLED, type QuicConnection } from "../../core/quic/stream.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import { connectQuic, type QuicConnectOptions } from "../../runtime/quic/connect.ts";

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

/** A request's or an answer's fields, without the frame type and the request id. */
type Fields<M> = Omit<M, "t" | "id">;

export type PublishRecord = PublishMessage["records"][number];
export type RecordPosition = AckMessage["records"][number];
export type FetchRequest = Fields<FetchMessage>;
export type FetchResult = Fields<RecordsMessage>;
export type LatestRequest = Fields<LatestMessage>;
export type LatestResult = Fields<LatestRecordsMessage>;
export type FetchedRecord = RecordsMessage["records"][number];
export type CommittedOffset = Fields<CommittedMessage>;
export type StreamInfo = Fields<StreamMessage>;
export type StreamOptions = Omit<Fields<StreamCreateMessage>, "name">;

export interface PublishAnswer {
  readonly positions: RecordPosition[];
  /** Frame bytes sent and received for this request (for bandwidth accounting). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

interface Answered<M> {
  readonly message: M;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

interface Pending {
  resolve(answer: { message: Message; bytes: number }): void;
  reject(error: unknown): void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** open: requests may be sent; failed: the connection is unusable and every call throws `error`. */
type ClientState = { readonly kind: "open" } | { readonly kind: "failed"; readonly error: StrataError };

/** A frame from the gateway as a message; one that does not parse is the gateway's fault (CORRUPT_DATA). */
function parseAnswer(frame: Frame): Message {
  try {
    return parseMessage(frame);
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `the gateway sent a malformed frame: ${(e as Error).message}`);
  }
}

/** The answer if it is of type `t`; an error message is thrown as its StrataError. */
function expectAnswer<T extends MessageType>(message: Message, t: T): MessageOf<T> {
  if (message.t === "error") throw errorFromMessage(message);
  if (!isOneOf(message, [t])) throw new StrataError("CORRUPT_DATA", `expected ${t}, got '${message.t}'`);
  return message;
}

/** The next frame of a bulk stream, which must be `t` (or an error). */
async function bulkAnswer<T extends MessageType>(reader: FrameReader, t: T): Promise<MessageOf<T>> {
  const frame = await reader.next();
  if (frame === null) throw new StrataError("UNAVAILABLE", "bulk stream ended without an answer");
  return expectAnswer(parseAnswer(frame), t);
}

export class QuicClient {
  readonly #connection: QuicConnection;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #session: Session;
  readonly #timeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #pending = new Map<number, Pending>();
  readonly #creditWaiters: (() => void)[] = [];
  #bulkOpen = 0;
  readonly #bulkWaiters: (() => void)[] = [];
  #nextId = 0;
  #state: ClientState = { kind: "open" };
  readonly closed: Promise<void>;

  private constructor(connection: QuicConnection, writer: FrameWriter, reader: FrameReader, session: Session, options: QuicClientOptions) {
    this.#connection = connection;
    this.#writer = writer;
    this.#reader = reader;
    this.#session = session;
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
      await writer.send({ t: "hello", versions: [...(options.versions ?? QUIC_PROTOCOL_VERSIONS)], max_frame_bytes: maxFrameBytes, token: options.token });
      const first = await reader.next();
      if (first === null) throw new StrataError("UNAVAILABLE", "the gateway closed the control stream without answering hello");
      const session = sessionOf(expectAnswer(parseAnswer(first), "hello-ok"));
      writer.maxFrameBytes = session.maxFrameBytes;
      return new QuicClient(connection, writer, reader, session, options);
    } catch (e) {
      await connection.close(QUIC_CODE_CANCELLED, "hello failed");
      throw e;
    }
  }

  /** The negotiated version and the gateway's limits. */
  get session(): Session {
    return this.#session;
  }

  async publish(stream: string, body: { records: readonly PublishRecord[]; producer?: ProducerRef }, acks: Acks = "local"): Promise<RecordPosition[]> {
    const { message } = await this.#request("ack", (id) => ({ t: "publish", id, stream, acks, records: [...body.records], producer: body.producer }));
    return message.records;
  }

  /** Publishes `count` records already encoded back to back (the edge outbox's form), without re-encoding them. */
  async publishEncoded(stream: string, count: number, recordBytes: Uint8Array, producer: ProducerRef | null, acks: Acks = "local"): Promise<PublishAnswer> {
    const answer = await this.#request("ack", (id) => ({ t: "publish", id, stream, acks, producer: producer ?? undefined, records: new EncodedItems(count, recordBytes) }));
    return { positions: answer.message.records, bytesSent: answer.bytesSent, bytesReceived: answer.bytesReceived };
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    const { message } = await this.#request("records", (id) => ({ t: "fetch", id, ...request }), request.wait_ms ?? 0);
    return { records: message.records, next_offset: message.next_offset, end_offset: message.end_offset };
  }

  /** The latest record per key of a compacted stream (GET /v1/streams/{name}/latest): long-polls past `after` with wait_ms. */
  async latest(request: LatestRequest): Promise<LatestResult> {
    const { message } = await this.#request("latest-records", (id) => ({ t: "latest", id, ...request }), request.wait_ms ?? 0);
    return { stream: message.stream, watermark: message.watermark, records: message.records };
  }

  async commit(group: string, position: { stream: string; partition: number; offset: number }): Promise<CommittedOffset> {
    const { message } = await this.#request("committed", (id) => ({ t: "commit", id, group, ...position }));
    return { stream: message.stream, partition: message.partition, offset: message.offset, updated_at: message.updated_at };
  }

  /** The stream's partitions and their offsets (GET /v1/streams/{name}). */
  async streamInfo(stream: string): Promise<StreamInfo> {
    return streamOf((await this.#request("stream", (id) => ({ t: "stream-info", id, stream }))).message);
  }

  /** Creates a stream (STREAM_EXISTS if it exists). */
  async createStream(name: string, options: StreamOptions = {}): Promise<StreamInfo> {
    return streamOf((await this.#request("stream", (id) => ({ t: "stream-create", id, name, ...options }))).message);
  }

  /** The exact bytes of a stored manifest (id: 64 hex); check them against the id before use. */
  async getManifest(id: string): Promise<Uint8Array> {
    return (await this.#request("manifest", (requestId) => ({ t: "manifest-get", id: requestId, manifest: id }))).message.bytes;
  }

  /** The hashes (32 bytes each) the gateway does not hold, in request order. */
  async missingChunks(hashes: readonly Uint8Array[]): Promise<Uint8Array[]> {
    return (await this.#request("missing", (id) => ({ t: "chunks-missing", id, hashes: [...hashes] }))).message.missing;
  }

  /** Uploads chunks on a bulk stream (at most session.maxChunksPerFrame, within the frame limit). */
  async putChunks(chunks: readonly FramedChunk[]): Promise<{ stored: number; existing: number }> {
    return this.#bulk(async (writer, reader) => {
      await writer.send({ t: "chunks-put", chunks: chunks.map((c) => [c.hash, c.data]) });
      await writer.end();
      const answer = await bulkAnswer(reader, "stored");
      return { stored: answer.stored, existing: answer.existing };
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
      const writer = new FrameWriter(stream, this.#session.maxFrameBytes);
      const reader = new FrameReader(stream.chunks, this.#maxFrameBytes);
      await writer.send({ t: "chunks-get", hashes: [...hashes] });
      await writer.end();
      await bulkAnswer(reader, "chunks");
      const parser = new ChunkFrameParser(this.#session.maxChunkBytes);
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
    if (this.#state.kind === "open") this.#state = { kind: "failed", error };
    const failure = this.#state.error;
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(failure);
    }
    this.#pending.clear();
    for (const wake of this.#creditWaiters.splice(0)) wake();
    for (const wake of this.#bulkWaiters.splice(0)) wake();
  }

  #throwIfFailed(): void {
    if (this.#state.kind === "failed") throw this.#state.error;
  }

  async #readAnswers(): Promise<void> {
    try {
      for (;;) {
        const payload = await this.#reader.nextPayload();
        if (payload === null) break;
        const frame = decodeFramePayload(payload);
        let message: Message;
        try {
          message = parseAnswer(frame);
        } catch (e) {
          // A bad field: the request it answers fails (without an id, the connection does).
          const id = requestIdOf(frame);
          if (id === undefined) throw e;
          this.#settle(id, (pending) => pending.reject(e));
          continue;
        }
        if (message.t === "error" && message.id === undefined) {
          this.#fail(errorFromMessage(message));
          continue;
        }
        if (!("id" in message) || message.id === undefined) throw new StrataError("CORRUPT_DATA", `the gateway sent '${message.t}' on the control stream`);
        this.#settle(message.id, (pending) => pending.resolve({ message, bytes: payload.length + FRAME_LENGTH_BYTES }));
      }
      this.#fail(new StrataError("UNAVAILABLE", "the gateway closed the control stream"));
    } catch (e) {
      this.#fail(e instanceof StrataError ? e : new StrataError("UNAVAILABLE", `control stream failed: ${(e as Error).message}`));
    }
    await this.#connection.close(QUIC_CODE_CANCELLED, "control stream ended");
  }

  /** Hands the answer with `id` to its request (an answer to nothing is dropped). */
  #settle(id: number, settle: (pending: Pending) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    settle(pending);
    this.#creditWaiters.shift()?.();
  }

  async #acquireCredit(): Promise<void> {
    while (this.#pending.size >= this.#session.maxInFlight && this.#state.kind === "open") await new Promise<void>((resolve) => this.#creditWaiters.push(resolve));
    this.#throwIfFailed();
  }

  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = (this.#nextId + 1) % 0x1_0000_0000;
      if (!this.#pending.has(id)) return id;
    }
  }

  /** Sends the request `build(id)` and waits for its answer, which must be of type `answer`. */
  async #request<A extends MessageType>(answer: A, build: (id: number) => OutgoingMessage, extraWaitMs = 0): Promise<Answered<MessageOf<A>>> {
    await this.#acquireCredit();
    const id = this.#allocateId();
    const pieces = encodeMessage(build(id), this.#session.maxFrameBytes);
    const received = new Promise<{ message: Message; bytes: number }>((resolve, reject) => {
      const timeoutMs = this.#timeoutMs + extraWaitMs;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new StrataError("UNAVAILABLE", `no answer within ${timeoutMs} ms`));
        void this.#connection.close(QUIC_CODE_CANCELLED, "request timed out");
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    this.#writer.sendRaw(pieces).catch((e: unknown) => this.#fail(new StrataError("UNAVAILABLE", `sending on the control stream failed: ${(e as Error).message}`)));
    const { message, bytes } = await received;
    return { message: expectAnswer(message, answer), bytesSent: piecesLength(pieces), bytesReceived: bytes };
  }

  async #acquireBulk(): Promise<() => void> {
    while (this.#bulkOpen >= this.#session.maxBulkStreams && this.#state.kind === "open") await new Promise<void>((resolve) => this.#bulkWaiters.push(resolve));
    this.#throwIfFailed();
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
        return await run(new FrameWriter(stream, this.#session.maxFrameBytes), new FrameReader(stream.chunks, this.#maxFrameBytes));
      } catch (e) {
        stream.abort(QUIC_CODE_CANCELLED);
        throw e;
      }
    } finally {
      release();
    }
  }
}

function streamOf(message: StreamMessage): StreamInfo {
  return { name: message.name, partitions: message.partitions, retention: message.retention, created_at: message.created_at };
}
