// Gradient contributions (docs/gradients.md): each is checked against its step's signature (fixed
// by the step's first accepted contribution), reserved in the metadata database, then appended as
// one record to the gradient stream. The same contribution sent again answers its first position;
// a different one for the same rank is GRADIENT_CONFLICT. The mean is the aggregator's, not ours.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import type { BodyForm } from "../../core/log/publish-request.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { MetadataDb } from "../db/database.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { LogService } from "../streams/log-service.ts";
import type { StreamService } from "../streams/stream-service.ts";
import { toContribution, type Contribution, type ContributionInput } from "./contribution.ts";
import type { GradientLimits } from "./gradient-limits.ts";
import { createGradientMetrics, type ContributionOutcome, type GradientMetrics } from "./gradient-metrics.ts";
import { GradientStore } from "./gradient-store.ts";
import type { ContributionAnswer } from "./gradient-wire.ts";

const log = getLogger(["strata", "gradients"]);
const utf8 = new TextEncoder();

export class GradientService {
  private readonly store: GradientStore;
  private readonly metrics: GradientMetrics;
  /** One contribution of a (stream, step, rank) at a time: a repeat waits for the first one's append. */
  private readonly rankLocks = new KeyedLock();
  /** Signature checks and reservations of a stream one at a time (the first contribution of a step fixes its signature). */
  private readonly streamLocks = new KeyedLock();

  constructor(
    db: MetadataDb,
    private readonly streams: StreamService,
    private readonly log: LogService,
    private readonly limits: GradientLimits,
    registry: MetricsRegistry,
  ) {
    this.store = new GradientStore(db);
    this.metrics = createGradientMetrics(registry);
  }

  /** Accepts rank's contribution to `step` of `stream` and answers where its record is. */
  async contribute(stream: string, step: number, body: ContributionInput, form: BodyForm, authorization?: string): Promise<ContributionAnswer> {
    assertStreamName(stream);
    if (!Number.isSafeInteger(step) || step < 0) throw new StrataError("BAD_REQUEST", "step must be a non-negative integer");
    const contribution = toContribution(body, form, this.limits);
    const count = (result: ContributionOutcome): void => this.metrics.contributions.inc({ stream, result });
    try {
      return await this.rankLocks.run(`${stream}\u0000${step}\u0000${contribution.rank}`, () => this.contributeLocked(stream, step, contribution, count, authorization));
    } catch (e) {
      if (e instanceof StrataError && e.code === "TENSOR_MISMATCH") count("mismatch");
      if (e instanceof StrataError && e.code === "GRADIENT_CONFLICT") count("conflict");
      throw e;
    }
  }

  /** `authorization`: the caller's, sent on when the record is forwarded to its partition's leader (cluster mode). */
  private async contributeLocked(stream: string, step: number, c: Contribution, count: (result: ContributionOutcome) => void, authorization: string | undefined): Promise<ContributionAnswer> {
    const stored = await this.store.contribution(stream, step, c.rank);
    if (stored !== undefined && stored.digest !== c.digest) {
      throw new StrataError("GRADIENT_CONFLICT", `rank ${c.rank} already contributed another payload to step ${step} of ${stream}`);
    }
    if (stored?.kind === "appended") {
      count("repeated");
      return { stream, step, rank: c.rank, partition: stored.partition, offset: stored.offset };
    }
    // A reserved row whose append never finished (the gateway died in between) is finished now.
    if (stored === undefined) {
      await this.streamLocks.run(stream, () => this.store.reserve({ stream, step, rank: c.rank, digest: c.digest, signature: c.signature, stepsKept: this.limits.signatureStepsKept, now: Date.now() }));
    }
    let position: { partition: number; offset: number };
    try {
      await this.streams.ensure(stream);
      const positions = await this.log.publish(stream, {
        records: [{ key: utf8.encode(String(step)), headers: {}, fields: { step, rank: c.rank, world_size: c.worldSize, tensors: c.tensors } }],
        producer: null,
      }, "local", undefined, { authorization });
      invariant(positions.length === 1, `one contribution record appended, got ${positions.length} positions`);
      position = positions[0]!;
    } catch (e) {
      log.warn("gradient contribution {stream}/{step} of rank {rank} was not appended: {error}", { stream, step, rank: c.rank, error: String(e) });
      await this.store.release(stream, step, c.rank);
      throw e;
    }
    await this.store.setPosition(stream, step, c.rank, position.partition, position.offset);
    count("accepted");
    let bytes = 0;
    for (const tensor of Object.values(c.tensors)) bytes += tensor.data.byteLength;
    this.metrics.contributedBytes.inc({ stream }, bytes);
    return { stream, step, rank: c.rank, partition: position.partition, offset: position.offset };
  }
}
