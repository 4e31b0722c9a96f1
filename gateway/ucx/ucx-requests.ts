// What a UCX request means, against the same services HTTP uses: a chunks request is
// `POST /v1/chunks/get` (the same frames, consume on any stream), a segment request is a Range of
// `GET /v1/streams/{name}/partitions/{p}/segments/{base}` (consume on the stream). The bearer
// token of the endpoint's hello is verified again on every request, exactly as HTTP verifies each
// request's header, so a revoked token stops working mid-connection too.
import { StrataError } from "../../core/errors.ts";
import type { ChunksRequest, SegmentRequest } from "../../core/ucx/control-schemas.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { authorize, authorizeAny, type Principal } from "../auth/principal.ts";
import type { GatewayServices } from "../services.ts";
import type { UcxLimits } from "./ucx-limits.ts";

/** An answer's bytes as pieces, copied once into the answer message or registered region. */
export interface AnswerBytes {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

type Services = Pick<GatewayServices, "artefacts" | "datasets" | "auth" | "metrics">;

export class UcxRequests {
  constructor(
    private readonly services: Services,
    private readonly limits: UcxLimits,
  ) {}

  /** The principal of a hello's token (the open principal while auth is off); UNAUTHENTICATED when refused. */
  principal(token: string | undefined): Promise<Principal> {
    return this.services.auth.verify(token);
  }

  async answer(token: string | undefined, request: ChunksRequest | SegmentRequest): Promise<AnswerBytes> {
    const principal = await this.principal(token);
    return request.t === "chunks" ? this.#chunks(principal, request) : this.#segment(principal, request);
  }

  async #chunks(principal: Principal, request: ChunksRequest): Promise<AnswerBytes> {
    authorizeAny(principal, ["consume"]);
    const reader = (await this.services.artefacts.artefacts.getChunks(request.hashes.map(bytesToHex))).getReader();
    const parts: Uint8Array[] = [];
    let length = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > this.limits.maxRequestBytes) {
        await reader.cancel().catch(() => undefined);
        throw new StrataError("BATCH_TOO_LARGE", `the ${request.hashes.length} chunks asked for are over ${this.limits.maxRequestBytes} bytes (ucx.maxRequestBytes): ask for fewer at once`);
      }
      parts.push(value);
    }
    return { parts, length };
  }

  async #segment(principal: Principal, request: SegmentRequest): Promise<AnswerBytes> {
    authorize(principal, "consume", request.stream);
    const segments = this.services.datasets.segments;
    const segment = await segments.info(request.stream, request.partition, request.base);
    const { start, end } = request;
    if (!(start < end && end <= segment.bytes)) {
      throw new StrataError("OFFSET_OUT_OF_RANGE", `range [${start}, ${end}) is not inside segment ${request.base} of ${request.stream}/${request.partition} (${segment.bytes} bytes)`);
    }
    if (end - start > this.limits.maxRequestBytes) {
      throw new StrataError("BATCH_TOO_LARGE", `range of ${end - start} bytes; ucx.maxRequestBytes is ${this.limits.maxRequestBytes}`);
    }
    const bytes = await segments.read(segment.key, start, end);
    this.services.metrics.bytesOut.inc({ stream: request.stream }, bytes.length);
    return { parts: [bytes], length: bytes.length };
  }
}
