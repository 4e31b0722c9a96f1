// `strata pull --via ucx://HOST:PORT`: manifests and stream lookups stay on HTTP, chunks come over
// UCX in requests of at most the gateway's max_request_bytes, each answer's frames verified
// exactly as an HTTP pull verifies them (readVerifiedFrames: hash order, lengths, BLAKE3). When
// the UCX connection cannot be opened or dies mid-transfer, the source says why once (onFallback)
// and serves this and every later batch over HTTP: the pull completes byte-identical.
import { StrataError, isStrataError } from "../../core/errors.ts";
import type { LandingRegion, UcxSession } from "../../core/ucx/ucx-session.ts";
import { getChunks } from "../artefacts/artefact-api.ts";
import { httpChunkSource, type ChunkSource } from "../artefacts/chunk-source.ts";
import type { GatewayHttp } from "../artefacts/gateway-http.ts";
import { readVerifiedFrames, type ExpectedChunk } from "../artefacts/verified-frames.ts";
import { FRAME_HEADER_BYTES } from "../../core/artefacts/chunk-frames.ts";

/** Opens a UCX session to the gateway (edge/transports/ucx-link.ts). */
export type UcxConnect = () => Promise<UcxSession<LandingRegion>>;

export interface UcxChunkSourceOptions {
  /** ucx://HOST:PORT, for messages. */
  readonly url: string;
  readonly http: GatewayHttp;
  readonly connect: UcxConnect;
  /** Called once when the source falls back to HTTP, with the reason. */
  readonly onFallback: (reason: string) => void;
  /** Answer bytes per request (the gateway's ucx.maxRequestBytes, or less). */
  readonly maxRequestBytes: number;
}

type LinkState =
  | { kind: "idle" }
  | { kind: "connecting"; session: Promise<UcxSession<LandingRegion>> }
  | { kind: "open"; session: UcxSession<LandingRegion> }
  | { kind: "fallen-back"; reason: string };

/** Failures of the UCX link itself (not of the request): the pull goes on over HTTP. */
function isLinkFailure(e: unknown): boolean {
  return isStrataError(e) && (e.code === "UCX_UNAVAILABLE" || e.code === "UCX_TRANSFER_FAILED" || e.code === "UNAVAILABLE");
}

function bodyOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** `expected` cut into runs whose framed answer fits `maxBytes` (one chunk per run at least). */
export function requestRuns(expected: readonly ExpectedChunk[], maxBytes: number): ExpectedChunk[][] {
  const runs: ExpectedChunk[][] = [];
  let run: ExpectedChunk[] = [];
  let bytes = 0;
  for (const e of expected) {
    const framed = FRAME_HEADER_BYTES + e.length;
    if (run.length > 0 && bytes + framed > maxBytes) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(e);
    bytes += framed;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

export function ucxChunkSource(options: UcxChunkSourceOptions): ChunkSource {
  const http = httpChunkSource(options.http);
  let state: LinkState = { kind: "idle" };

  const fallBack = (e: unknown): void => {
    if (state.kind === "fallen-back") return;
    const open = state.kind === "open" ? state.session : undefined;
    const reason = e instanceof Error ? e.message : String(e);
    state = { kind: "fallen-back", reason };
    void open?.close();
    options.onFallback(`UCX ${options.url} failed (${reason}); continuing over HTTP ${options.http.baseUrl}`);
  };

  const session = async (): Promise<UcxSession<LandingRegion>> => {
    if (state.kind === "open") {
      if (state.session.state !== "closed") return state.session;
      throw new StrataError("UCX_UNAVAILABLE", "the UCX connection closed");
    }
    if (state.kind === "fallen-back") throw new StrataError("UCX_UNAVAILABLE", state.reason);
    if (state.kind === "idle") {
      const opening = options.connect();
      state = { kind: "connecting", session: opening };
      const opened = await opening;
      if (state.kind === "connecting") state = { kind: "open", session: opened };
      return opened;
    }
    return state.session;
  };

  return {
    description: `ucx ${options.url} (manifests over http ${options.http.baseUrl})`,
    latest: http.latest,
    manifest: http.manifest,
    async chunks(expected, onChunk, signal) {
      let done = 0;
      if (state.kind !== "fallen-back") {
        try {
          for (const run of requestRuns(expected, options.maxRequestBytes)) {
            signal.throwIfAborted();
            const answer = await (await session()).request({ t: "chunks", hashes: run.map((e) => e.hash) });
            const base = done;
            await readVerifiedFrames(bodyOf(answer), run, (index, bytes) => onChunk(base + index, bytes));
            done += run.length;
          }
          return;
        } catch (e) {
          if (!isLinkFailure(e)) throw e;
          fallBack(e);
        }
      }
      const rest = expected.slice(done);
      await getChunks(options.http, rest, (index, bytes) => onChunk(done + index, bytes), signal);
    },
  };
}
