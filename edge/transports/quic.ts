// The sync transport over QUIC with HTTP beside it. Publishes, stream creation, artefact lookups
// (stream-info and fetch of the partitions' tails) and pin pulls (manifest-get, chunks-get on
// bulk streams, every chunk verified) all go over QUIC, so no HTTP address is needed. When QUIC
// cannot connect, or the runtime has none, they use HTTP (if given) for a while before QUIC is
// tried again. With both addresses, pin pulls use whichever transport measured faster
// (bulk-probe.ts): measured before the first pull and again when the measurement is older than
// REMEASURE_MS; under a rate limit both are held to it, so bulk stays on QUIC unmeasured.
import { StrataError } from "../../core/errors.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import type { EncodedRecords } from "../records.ts";
import { MIN_PROBE_BYTES, probe, probeChunks, REMEASURE_MS } from "./bulk-probe.ts";
import type { HttpTransport } from "./http.ts";
import { pullPin } from "./pin-pull.ts";
import { quicChunkSource } from "./quic-chunk-source.ts";
import { QuicClient } from "./quic-client.ts";
import type { LatestArtefact, PublishAck, PullRequest, PullResult, SyncTransport, TransportChoice, TransportKind } from "./transport.ts";

/** After QUIC fails to connect, publishes use HTTP this long before QUIC is tried again. */
export const QUIC_RETRY_AFTER_MS = 60_000;

export interface QuicAddress {
  readonly host: string;
  readonly port: number;
  readonly fingerprint?: string;
  /** PEM of a CA the gateway's certificate chains to (Deno needs it; Bun takes a fingerprint). */
  readonly ca?: string;
}

export interface QuicTimeouts {
  readonly requestMs: number;
  readonly connectMs: number;
  readonly idleMs: number;
}

export type TransportNotice = (message: string) => void;
/** Told each time the transport choice changes (publish fallback, a new measurement). */
export type ChoiceListener = (choice: TransportChoice) => void;

/** quic://HOST:PORT → host and port. */
export function parseQuicUrl(url: string): { host: string; port: number } {
  const m = /^quic:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new StrataError("BAD_REQUEST", `a QUIC gateway address is quic://HOST:PORT, got ${url}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

interface Measured {
  quic: number | null;
  http: number | null;
  at: number | null;
  bulk: TransportKind;
  reason: string;
}

function mbps(v: number): number {
  return Math.round(v * 10) / 10;
}

export class QuicTransport implements SyncTransport {
  readonly #address: QuicAddress;
  readonly #http: HttpTransport | null;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #notice: TransportNotice;
  readonly #onChoice: ChoiceListener;
  #client: QuicClient | null = null;
  #httpUntil = 0;
  #measured: Measured;

  constructor(address: QuicAddress, http: HttpTransport | null, timeouts: QuicTimeouts, notice: TransportNotice, onChoice: ChoiceListener = () => undefined) {
    this.#address = address;
    this.#http = http;
    this.#requestTimeoutMs = timeouts.requestMs;
    this.#connectTimeoutMs = timeouts.connectMs;
    this.#idleTimeoutMs = timeouts.idleMs;
    this.#notice = notice;
    this.#onChoice = onChoice;
    this.#measured = { quic: null, http: null, at: null, bulk: "quic", reason: http ? "not measured yet" : "QUIC only (no HTTP address)" };
  }

  get description(): string {
    const quic = `quic ${this.#address.host}:${this.#address.port}`;
    return this.#http ? `${quic} (fallback ${this.#http.description})` : quic;
  }

  choice(): TransportChoice {
    const m = this.#measured;
    return {
      publish: this.#usingHttp() ? "http" : "quic",
      bulk: this.#usingHttp() ? "http" : m.bulk,
      measured: { quic_mbps: m.quic, http_mbps: m.http, at: m.at, reason: m.reason },
    };
  }

  #usingHttp(): boolean {
    return this.#http !== null && Date.now() < this.#httpUntil;
  }

  async #connected(): Promise<QuicClient> {
    if (this.#client) return this.#client;
    const client = await QuicClient.connect({
      host: this.#address.host,
      port: this.#address.port,
      requestTimeoutMs: this.#requestTimeoutMs,
      connectTimeoutMs: this.#connectTimeoutMs,
      idleTimeoutMs: this.#idleTimeoutMs,
      ...(this.#address.fingerprint !== undefined ? { fingerprint: this.#address.fingerprint } : {}),
      ...(this.#address.ca !== undefined ? { ca: this.#address.ca } : {}),
    });
    this.#client = client;
    void client.closed.then(() => {
      if (this.#client === client) this.#client = null;
    });
    return client;
  }

  /** The QUIC client, or null when HTTP is to be used instead (QUIC down and HTTP given). */
  async #quicOrFallback(): Promise<QuicClient | null> {
    if (this.#usingHttp()) return null;
    try {
      return await this.#connected();
    } catch (e) {
      if (!this.#http) throw e instanceof StrataError ? e : new StrataError("UNAVAILABLE", `QUIC connect: ${(e as Error).message}`, { cause: e });
      this.#httpUntil = Date.now() + QUIC_RETRY_AFTER_MS;
      this.#notice(`QUIC to ${this.#address.host}:${this.#address.port} unavailable (${(e as Error).message}); publishing over ${this.#http.description} for ${QUIC_RETRY_AFTER_MS / 1000} s (pins too)`);
      this.#onChoice(this.choice());
      return null;
    }
  }

  /** Runs `work` over QUIC; a failed connection is dropped so the next attempt reconnects. */
  async #overQuic<T>(client: QuicClient, work: (client: QuicClient) => Promise<T>): Promise<T> {
    try {
      return await work(client);
    } catch (e) {
      if (e instanceof StrataError && e.code === "UNAVAILABLE") await this.#drop();
      throw e;
    }
  }

  async publish(stream: string, producer: ProducerRef, records: EncodedRecords, signal: AbortSignal): Promise<PublishAck> {
    const client = await this.#quicOrFallback();
    if (!client) return this.#http!.publish(stream, producer, records, signal);
    if (signal.aborted) throw signal.reason;
    // The loop resends the same seq after a failure.
    return this.#overQuic(client, async (c) => {
      const answer = await c.publishEncoded(stream, records.count, records.bytes, producer);
      return { positions: answer.positions, bytesSent: answer.bytesSent, bytesReceived: answer.bytesReceived };
    });
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.close().catch(() => undefined);
  }

  #source(client: QuicClient) {
    return quicChunkSource(client, `quic ${this.#address.host}:${this.#address.port}`);
  }

  async createStream(stream: string): Promise<void> {
    const client = await this.#quicOrFallback();
    if (!client) return this.#http!.createStream(stream);
    await this.#overQuic(client, async (c) => {
      try {
        await c.streamInfo(stream);
        return;
      } catch (e) {
        if (!(e instanceof StrataError) || e.code !== "STREAM_NOT_FOUND") throw e;
      }
      try {
        await c.createStream(stream, { partitions: 1 });
      } catch (e) {
        if (!(e instanceof StrataError) || e.code !== "STREAM_EXISTS") throw e;
      }
    });
  }

  async fetchLatestArtefactRef(stream: string, field: string): Promise<LatestArtefact | null> {
    const client = await this.#quicOrFallback();
    if (!client) return this.#http!.fetchLatestArtefactRef(stream, field);
    return this.#overQuic(client, async (c) => {
      try {
        const found = await this.#source(c).latest(stream, field);
        return { ref: found.ref, partition: found.partition, offset: found.offset, timestamp: found.timestamp };
      } catch (e) {
        if (e instanceof StrataError && (e.code === "NOT_FOUND" || e.code === "STREAM_NOT_FOUND")) return null;
        throw e;
      }
    });
  }

  async pull(request: PullRequest): Promise<PullResult> {
    const client = await this.#quicOrFallback();
    if (!client) return this.#http!.pull(request);
    if (this.#http && request.maxBytesPerSecond === 0 && (this.#measured.at === null || Date.now() - this.#measured.at >= REMEASURE_MS)) {
      try {
        await this.#measure(client, this.#http, request);
      } catch (e) {
        if (request.signal?.aborted) throw request.signal.reason;
        // A failed measurement (HTTP down, say) must not hold pins back: QUIC, measured again later.
        this.#measured = { quic: null, http: null, at: Date.now(), bulk: "quic", reason: `measurement failed: ${(e as Error).message}` };
        this.#onChoice(this.choice());
      }
    } else if (this.#http && request.maxBytesPerSecond > 0 && this.#measured.at === null) {
      this.#measured.reason = "rate limit: both transports are held to it (not measured)";
    }
    if (this.#http && this.#measured.bulk === "http") return this.#http.pull(request);
    return this.#overQuic(client, (c) => pullPin({ chunkSource: this.#source(c) }, request));
  }

  /** Times a few MiB of the artefact's chunks over each transport and picks the faster for pulls. */
  async #measure(client: QuicClient, http: HttpTransport, request: PullRequest): Promise<void> {
    const quic = this.#source(client);
    const { manifest } = await quic.manifest(request.artefact);
    if (manifest.size < MIN_PROBE_BYTES) return;
    const signal = request.signal ?? new AbortController().signal;
    const result = await probe(quic, http.chunkSource(), probeChunks(manifest), signal);
    const bulk: TransportKind = result.b > result.a ? "http" : "quic";
    this.#measured = { quic: mbps(result.a), http: mbps(result.b), at: Date.now(), bulk, reason: `measured: ${bulk} faster` };
    this.#notice(`bulk transfers over ${bulk}: measured QUIC ${mbps(result.a)} MB/s, HTTP ${mbps(result.b)} MB/s`);
    this.#onChoice(this.choice());
  }

  async close(): Promise<void> {
    await this.#drop();
    await this.#http?.close();
  }
}
