// The completion record of a checkpoint on jobs/{job}/checkpoints: published once the checkpoint
// is complete (after its transaction), and again at start for a complete checkpoint whose
// record's position was never stored (the gateway died between the two). Its shards ride as
// ArtefactRef values, so the manifest-ref index sees them like any record's.
import { makeArtefactRef } from "../../core/log/extensions.ts";
import type { Fields, Value } from "../../core/log/record.ts";
import { StrataError } from "../../core/errors.ts";
import type { ManifestService } from "../artefacts/manifest-service.ts";
import type { LogService } from "../streams/log-service.ts";
import type { StreamService } from "../streams/stream-service.ts";
import type { CheckpointEntry, RecordPosition } from "./checkpoint-state.ts";
import { checkpointStreamOf } from "./job-wire.ts";

export class CompletionRecords {
  constructor(
    private readonly streams: StreamService,
    private readonly log: LogService,
    private readonly manifests: ManifestService,
  ) {}

  /** Appends the record (creating the stream, one partition, when missing) and answers where it landed. */
  async publish(entry: CheckpointEntry): Promise<RecordPosition> {
    const state = entry.state;
    if (state.kind !== "complete") throw new StrataError("INTERNAL", `completion record of ${entry.job}/${entry.id} while ${state.kind}`);
    const stream = checkpointStreamOf(entry.job);
    await this.streams.ensure(stream);
    const ranks: Value[] = [];
    for (const commit of state.ranks) {
      const info = await this.manifests.info(commit.artefact);
      ranks.push({ rank: commit.rank, artefact: makeArtefactRef(info.id, info.size, info.mediaType), state: commit.state });
    }
    const fields: Fields = { job: entry.job, id: entry.id, step: entry.step, world_size: entry.worldSize, completed_at: state.completedAt, ranks };
    const [position] = await this.log.publish(stream, { records: [{ key: new TextEncoder().encode(entry.id), headers: {}, fields }], producer: null });
    if (position === undefined) throw new StrataError("INTERNAL", `publishing the completion record of ${entry.job}/${entry.id} answered no position`);
    return position;
  }
}
