// The sync transport over QUIC with HTTP beside it: publishes go over the QUIC control stream
// (the outbox's encoded records spliced into the publish frame); when QUIC cannot connect, or
// the runtime has none, they fall back to HTTP for a while before QUIC is tried again. Stream
// creation, artefact lookups and pin pulls go over HTTP (the protocol has no frames for stream
// metadata or manifests), so they need the gateway's HTTP address.
import { StrataError } from "../../core/errors.ts";
import type { ProducerRef } from "../../core/record.ts";
import type { EncodedRecords } from "../records.ts";
import type { HttpTransport } from "./http.ts";
import { QuicClient } from "./quic-client.ts";
import type { LatestArtefact, PublishAck, PullRequest, PullResult, SyncTransport } from "./transport.ts";

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

/** quic://HOST:PORT → host and port. */
export function parseQuicUrl(url: string): { host: string; port: number } {
  const m = /^quic:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new StrataError("BAD_REQUEST", `a QUIC gateway address is quic://HOST:PORT, got ${url}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

export class QuicTransport implements SyncTransport {
  readonly #address: QuicAddress;
  readonly #http: HttpTransport | null;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #notice: TransportNotice;
  #client: QuicClient | null = null;
  #httpUntil = 0;

  constructor(address: QuicAddress, http: HttpTransport | null, timeouts: QuicTimeouts, notice: TransportNotice) {
    this.#address = address;
    this.#http = http;
    this.#requestTimeoutMs = timeouts.requestMs;
    this.#connectTimeoutMs = timeouts.connectMs;
    this.#idleTimeoutMs = timeouts.idleMs;
    this.#notice = notice;
  }

  get description(): string {
    const quic = `quic ${this.#address.host}:${this.#address.port}`;
    return this.#http ? `${quic} (fallback ${this.#http.description})` : quic;
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

  async publish(stream: string, producer: ProducerRef, records: EncodedRecords, signal: AbortSignal): Promise<PublishAck> {
    if (this.#http && Date.now() < this.#httpUntil) return this.#http.publish(stream, producer, records, signal);
    let client: QuicClient;
    try {
      client = await this.#connected();
    } catch (e) {
      if (!this.#http) throw e instanceof StrataError ? e : new StrataError("UNAVAILABLE", `QUIC connect: ${(e as Error).message}`, { cause: e });
      this.#httpUntil = Date.now() + QUIC_RETRY_AFTER_MS;
      this.#notice(`QUIC to ${this.#address.host}:${this.#address.port} unavailable (${(e as Error).message}); publishing over ${this.#http.description} for ${QUIC_RETRY_AFTER_MS / 1000} s`);
      return this.#http.publish(stream, producer, records, signal);
    }
    if (signal.aborted) throw signal.reason;
    try {
      const answer = await client.publishEncoded(stream, records.count, records.bytes, producer);
      return { positions: answer.positions, bytesSent: answer.bytesSent, bytesReceived: answer.bytesReceived };
    } catch (e) {
      // A failed connection is dropped so the next attempt reconnects; the loop resends the same seq.
      if (e instanceof StrataError && e.code === "UNAVAILABLE") await this.#drop();
      throw e;
    }
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.close().catch(() => undefined);
  }

  #httpFor(what: string): HttpTransport {
    if (!this.#http) throw new StrataError("BAD_REQUEST", `${what} needs the gateway's HTTP address beside quic:// (gateway.http / --http URL)`);
    return this.#http;
  }

  async createStream(stream: string): Promise<void> {
    await this.#httpFor(`creating stream ${stream}`).createStream(stream);
  }

  async fetchLatestArtefactRef(stream: string, field: string): Promise<LatestArtefact | null> {
    return this.#httpFor(`looking up the artefact pinned on ${stream}`).fetchLatestArtefactRef(stream, field);
  }

  async pull(request: PullRequest): Promise<PullResult> {
    return this.#httpFor(`pulling artefact ${request.artefact}`).pull(request);
  }

  async close(): Promise<void> {
    await this.#drop();
    await this.#http?.close();
  }
}
