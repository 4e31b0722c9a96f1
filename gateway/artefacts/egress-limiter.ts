// The gateway-wide egress limit for artefact downloads (`strata serve --egress-limit 500MB/s`,
// docs/versions.md): one token bucket shared by every response that carries artefact bytes
// (GET /v1/artefacts/{id} and chunk frames of POST /v1/chunks/get), next to each edge's own
// --rate-limit. The bytes are paced as the client reads them, after the single object-store read
// per chunk, so fan-out to many devices still costs one read per chunk.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";
import { tokenBucket, type TokenBucket } from "../../core/util/token-bucket.ts";

const GB = 1_000_000_000;

export const EGRESS_LIMITS = defineLimits("egress", {
  bytesPerSecond: { default: 0, unit: "bytes", min: 0, max: 1_000 * GB, doc: "Bytes per second all artefact downloads together may send (HTTP artefact reads and chunk frames); 0: unlimited." },
  burstMs: { default: 100, unit: "ms", min: 1, max: 10_000, doc: "Credit an idle egress limit gathers, in milliseconds of its rate (the burst a first download may send at once)." },
});

export type EgressLimits = LimitValues<typeof EGRESS_LIMITS.specs>;

export class EgressLimiter {
  readonly #bucket: TokenBucket | null;

  constructor(limits: EgressLimits = EGRESS_LIMITS.defaults) {
    this.#bucket = tokenBucket(limits.bytesPerSecond, limits.burstMs / 1000);
  }

  /** `body` paced by the shared bucket (each piece pays before it is passed on); as it is when unlimited. */
  pace(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const bucket = this.#bucket;
    if (bucket === null) return body;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        async transform(piece, controller) {
          await bucket.take(piece.length);
          controller.enqueue(piece);
        },
      }),
    );
  }
}
