// Creates `_strata/anomalies` before the first flag is written (docs/anomalies.md): one partition,
// kept for anomalies.streamRetentionMs (a week by default; applied when the stream is created). Created on first use, not at start, so a gateway that never flags anything
// holds no stream of its own (nor spends a stream or partition of its limits). In cluster mode
// every gateway may try; the one that loses the race finds it there.
import { StrataError } from "../../core/errors.ts";
import { ANOMALIES_STREAM } from "./anomaly-record.ts";

/** The one call of the stream service this needs (StreamService.create with `internal`). */
export interface InternalStreamCreator {
  create(input: { readonly name: string; readonly partitions: number; readonly retention: { readonly ms: number } }, internal: boolean): Promise<unknown>;
}

export async function ensureAnomalyStream(streams: InternalStreamCreator, retentionMs: number): Promise<void> {
  try {
    await streams.create({ name: ANOMALIES_STREAM, partitions: 1, retention: { ms: retentionMs } }, true);
  } catch (e) {
    if (!(e instanceof StrataError && e.code === "STREAM_EXISTS")) throw e;
  }
}
