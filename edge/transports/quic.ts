// The sync transport over QUIC with HTTP beside it. Publishes, stream creation, artefact lookups
// (stream-info and fetch of the partitions' tails) and pin pulls (manifest-get, chunks-get on
// bulk streams, every chunk verified) all go over QUIC, so no HTTP address is needed. When QUIC
// cannot connect, or the runtime has none, they use HTTP (if given) for a while before QUIC is
// tried again (the link's states are in quic-link.ts). With both addresses, pin pulls use whichever transport measured faster
// (bulk-probe.ts): measured before the first pull and again when the measurement is older than
// REMEASURE_MS; under a rate limit both are held to it, so bulk stays on QUIC unmeasured.
import { invariant, StrataError } from "../../core/errors.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import { AUTO_CREATED_PARTITIONS } from "../artefacts/stream-api.ts";
import type { EncodedRecords } from "../records.ts";
import { MIN_PROBE_BYTES, probe, probeChunks, REMEASURE_MS } from "./bulk-probe.ts";
import type { HttpTransport } from "./http.ts";
import { pullPin } from "./pin-pull.ts";
import { quicChunkSource } from "./quic-chunk-source.ts";
import { QuicClient } from "./quic-client.ts";
import { QuicLink, type QuicLinkState } from "./quic-link.ts";
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

export interface QuicTransportOptions {
  readonly address: QuicAddress;
  /** The gateway's HTTP API: the fallback while QUIC is down, and the other candidate for bulk transfers. */
  readonly http: HttpTransport | null;
  readonly timeouts: QuicTimeouts;
  /** Sent in the hello of every connection (the gateway under --auth refuses a hello without one). */
  readonly token?: string;
  readonly notice: TransportNotice;
  readonly onChoice?: ChoiceListener;
  /** How long HTTP stands in after QUIC failed to connect (default QUIC_RETRY_AFTER_MS). */
  readonly fallbackMs?: number;
  /** The clock of the fallback window (default Date.now). */
  readonly now?: () => number;
}

export class QuicTransport implements SyncTransport {
  readonly #address: QuicAddress;
  readonly #http: HttpTransport | null;
  readonly #notice: TransportNotice;
  readonly #onChoice: ChoiceListener;
  readonly #link: QuicLink;
  #measured: Measured;

  constructor(options: QuicTransportOptions) {
    const { address, http, timeouts, notice } = options;
    this.#address = address;
    this.#http = http;
    this.#notice = notice;
    this.#onChoice = options.onChoice ?? (() => undefined);
    this.#measured = { quic: null, http: null, at: null, bulk: "quic", reason: http ? "not measured yet" : "QUIC only (no HTTP address)" };
    const fallbackMs = options.fallbackMs ?? QUIC_RETRY_AFTER_MS;
    this.#link = new QuicLink({
      connect: () =>
        QuicClient.connect({
          host: address.host,
          port: address.port,
          requestTimeoutMs: timeouts.requestMs,
          connectTimeoutMs: timeouts.connectMs,
          idleTimeoutMs: timeouts.idleMs,
          ...(address.fingerprint !== undefined ? { fingerprint: address.fingerprint } : {}),
          ...(address.ca !== undefined ? { ca: address.ca } : {}),
          ...(options.token !== undefined ? { token: options.token } : {}),
        }),
      httpFallback: http !== null,
      fallbackMs,
      now: options.now ?? Date.now,
      onFallback: (reason) => {
        this.#notice(`QUIC to ${address.host}:${address.port} unavailable (${reason}); publishing over ${http?.description} for ${fallbackMs / 1000} s (pins too)`);
        this.#onChoice(this.choice());
      },
    });
  }

  get description(): string {
    const quic = `quic ${this.#address.host}:${this.#address.port}`;
    return this.#http ? `${quic} (fallback ${this.#http.description})` : quic;
  }

  /** The state of the QUIC link (connected, connecting, HTTP standing in until when). */
  get link(): QuicLinkState {
    return this.#link.state;
  }

  choice(): TransportChoice {
    const m = this.#measured;
    const usingHttp = this.#link.usingHttp();
    return {
      publish: usingHttp ? "http" : "quic",
      bulk: usingHttp ? "http" : m.bulk,
      measured: { quic_mbps: m.quic, http_mbps: m.http, at: m.at, reason: m.reason },
    };
  }

  /** Where a call goes: the QUIC client, or HTTP while it stands in for QUIC. */
  async #route(): Promise<{ readonly quic: QuicClient } | { readonly http: HttpTransport }> {
    const client = await this.#link.client();
    if (client) return { quic: client };
    invariant(this.#http !== null, "the QUIC link fell back to HTTP without an HTTP transport");
    return { http: this.#http };
  }

  /** Runs `work` over QUIC; a failed connection is dropped so the next attempt reconnects. */
  async #overQuic<T>(client: QuicClient, work: (client: QuicClient) => Promise<T>): Promise<T> {
    try {
      return await work(client);
    } catch (e) {
      if (e instanceof StrataError && e.code === "UNAVAILABLE") await this.#link.drop(client);
      throw e;
    }
  }

  async publish(stream: string, producer: ProducerRef, records: EncodedRecords, signal: AbortSignal): Promise<PublishAck> {
    const route = await this.#route();
    if ("http" in route) return route.http.publish(stream, producer, records, signal);
    if (signal.aborted) throw signal.reason;
    // The loop resends the same seq after a failure.
    return this.#overQuic(route.quic, async (c) => {
      const answer = await c.publishEncoded(stream, records.count, records.bytes, producer);
      return { positions: answer.positions, bytesSent: answer.bytesSent, bytesReceived: answer.bytesReceived };
    });
  }

  #source(client: QuicClient) {
    return quicChunkSource(client, `quic ${this.#address.host}:${this.#address.port}`);
  }

  async createStream(stream: string): Promise<void> {
    const route = await this.#route();
    if ("http" in route) return route.http.createStream(stream);
    await this.#overQuic(route.quic, async (c) => {
      try {
        await c.streamInfo(stream);
        return;
      } catch (e) {
        if (!(e instanceof StrataError) || e.code !== "STREAM_NOT_FOUND") throw e;
      }
      try {
        await c.createStream(stream, { partitions: AUTO_CREATED_PARTITIONS });
      } catch (e) {
        if (!(e instanceof StrataError) || e.code !== "STREAM_EXISTS") throw e;
      }
    });
  }

  async fetchLatestArtefactRef(stream: string, field: string): Promise<LatestArtefact | null> {
    const route = await this.#route();
    if ("http" in route) return route.http.fetchLatestArtefactRef(stream, field);
    return this.#overQuic(route.quic, async (c) => {
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
    const route = await this.#route();
    if ("http" in route) return route.http.pull(request);
    if (this.#http && request.maxBytesPerSecond === 0 && (this.#measured.at === null || Date.now() - this.#measured.at >= REMEASURE_MS)) {
      try {
        await this.#measure(route.quic, this.#http, request);
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
    return this.#overQuic(route.quic, (c) => pullPin({ chunkSource: this.#source(c) }, request));
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
    await this.#link.close();
    await this.#http?.close();
  }
}
