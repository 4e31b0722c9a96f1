// The sync transport over HTTP: publish requests as client-built batches spliced from the outbox's
// encoded records (batch-body.ts), or in MessagePack built by concatenating them, artefact
// lookups and pulls through the artefact client.
import * as z from "zod/mini";
import { StrataError } from "../../core/errors.ts";
import { CLIENT_BATCH_MEDIA_TYPE, refusesClientBatches } from "../../core/log/client-batch.ts";
import { MsgpackWriter } from "../../core/log/msgpack-writer.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import { type ChunkSource, httpChunkSource } from "../artefacts/chunk-source.ts";
import { ensureStream, latestArtefact } from "../artefacts/stream-api.ts";
import type { EncodedRecords } from "../records.ts";
import { clientBatchOf } from "./batch-body.ts";
import { type FailoverGatewayHttp, failoverGatewayHttp } from "./http-failover.ts";
import { pullPin } from "./pin-pull.ts";
import type { LatestArtefact, PublishAck, PullRequest, PullResult, RecordPosition, SyncTransport, TransportChoice } from "./transport.ts";

const MSGPACK = "application/msgpack";
const JSON_TYPE = "application/json";
/** Rough size of an HTTP/1.1 request's or response's head, counted against the bandwidth limit. */
export const HTTP_HEAD_BYTES = 256;

/** `{"records": [...], "producer": {id, epoch, seq}}` with the records spliced in as they are stored. */
export function publishBody(records: EncodedRecords, producer: ProducerRef): Uint8Array {
  const w = new MsgpackWriter(records.bytes.length + 64);
  w.map(2).str("records").array(records.count).raw(records.bytes);
  w.str("producer").map(3).str("id").uint(producer.id).str("epoch").uint(producer.epoch).str("seq").uint(producer.seq);
  return w.bytes();
}

/** The answer to a publish: `{"records": [{"partition", "offset"}]}` (other fields ignored). */
const publishAnswer = z.object({ records: z.array(z.object({ partition: z.int().check(z.minimum(0)), offset: z.int().check(z.minimum(0)) })) });

function positionsOf(body: unknown, count: number, what: string): RecordPosition[] {
  const answer = publishAnswer.safeParse(body);
  if (!answer.success || answer.data.records.length !== count) throw new StrataError("CORRUPT_DATA", `${what}: answer does not hold ${count} record positions`);
  return answer.data.records;
}

/** Whether a refused batch says the gateway does not take them: 415, or a gateway from before them reading it as JSON. */
function predatesBatches(e: unknown): boolean {
  if (!(e instanceof StrataError)) return false;
  return refusesClientBatches(e.code, e.message);
}

export class HttpTransport implements SyncTransport {
  readonly description: string;
  readonly #http: FailoverGatewayHttp;
  readonly #token: string | undefined;
  readonly #ca: string | undefined;
  #batchesRefused = false;

  /**
   * `urls`: the gateway's URL, or several gateways' (a comma-separated list or an array): each
   * request goes to the one that last answered and moves on after a failure (http-failover.ts).
   * `token`: sent as `Authorization: Bearer` on every request (publishes, lookups, pin pulls).
   * `ca`: PEM of a CA to trust for an https:// gateway with its own certificate.
   */
  constructor(urls: string | readonly string[], requestTimeoutMs: number, token?: string, ca?: string) {
    // One GatewayHttp attempt per call: the sync loop owns retries (with backoff and the same seq).
    this.#http = failoverGatewayHttp(urls, { requestTimeoutMs, attempts: 1, ...(token !== undefined ? { token } : {}), ...(ca !== undefined ? { ca } : {}) });
    this.#token = token;
    this.#ca = ca;
    this.description = `http ${typeof urls === "string" ? urls : urls.join(",")}`;
  }

  async publish(stream: string, producer: ProducerRef, records: EncodedRecords, signal: AbortSignal): Promise<PublishAck> {
    const path = `/v1/streams/${encodeURIComponent(stream)}/records`;
    const what = `POST ${path}`;
    // A client-built batch when the records go to one partition (the gateway appends it as it is);
    // MessagePack otherwise, or once a gateway has said it does not take batches.
    const built = this.#batchesRefused ? undefined : clientBatchOf(records, producer);
    let sent = 0;
    let text: string | undefined;
    if (built) {
      sent = built.batch.length;
      const query = built.partition === undefined ? "" : `?partition=${built.partition}`;
      try {
        const response = await this.#http.request(path + query, { method: "POST", body: built.batch, contentType: CLIENT_BATCH_MEDIA_TYPE, accept: JSON_TYPE, idempotent: false, signal }, what);
        text = await response.text();
      } catch (e) {
        if (!predatesBatches(e)) throw e;
        this.#batchesRefused = true; // not written: the same sequence goes as MessagePack
      }
    }
    if (text === undefined) {
      const body = publishBody(records, producer);
      sent += body.length;
      const response = await this.#http.request(path, { method: "POST", body, contentType: MSGPACK, accept: JSON_TYPE, idempotent: false, signal }, what);
      text = await response.text();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new StrataError("CORRUPT_DATA", `${what}: malformed JSON answer: ${(e as Error).message}`);
    }
    return { positions: positionsOf(parsed, records.count, what), bytesSent: sent + HTTP_HEAD_BYTES, bytesReceived: text.length + HTTP_HEAD_BYTES };
  }

  async createStream(stream: string): Promise<void> {
    await ensureStream(this.#http, stream);
  }

  async fetchLatestArtefactRef(stream: string, field: string): Promise<LatestArtefact | null> {
    try {
      const found = await latestArtefact(this.#http, stream, field);
      return { ref: found.ref, partition: found.partition, offset: found.offset, timestamp: found.timestamp };
    } catch (e) {
      if (e instanceof StrataError && (e.code === "NOT_FOUND" || e.code === "STREAM_NOT_FOUND")) return null;
      throw e;
    }
  }

  pull(request: PullRequest): Promise<PullResult> {
    // A pull opens its own connection: to the gateway that answered last.
    return pullPin({ gateway: this.#http.current(), ...(this.#token !== undefined ? { token: this.#token } : {}), ...(this.#ca !== undefined ? { ca: this.#ca } : {}) }, request);
  }

  /** The artefact routes as a chunk source (for pulls and for measuring this transport). */
  chunkSource(): ChunkSource {
    return httpChunkSource(this.#http);
  }

  choice(): TransportChoice {
    return { publish: "http", bulk: "http", measured: { quic_mbps: null, http_mbps: null, at: null, reason: "HTTP only" } };
  }

  async close(): Promise<void> {}
}
