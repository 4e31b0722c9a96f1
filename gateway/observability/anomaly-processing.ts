// Processing times of consumer groups and queues (docs/anomalies.md), measured where one gateway
// sees both ends:
// - a group: from the read that delivered records to a member (a read carrying `group=`, which
//   the group consumer sends) to the offset commit covering them. One observation per commit
//   that covers records of tracked reads: the time since the earliest such read.
// - a queue: from the claim that handed a record out to its ack. One observation per acked record.
// Reads and claims wait here for their commit or ack; at most anomalies.maxTrackedDeliveries of
// them, the oldest forgotten first (counted in strata_anomalies_untracked_total).
import type { AnomalyDetector } from "./anomaly-detector.ts";
import type { AnomalyMetrics } from "./anomaly-metrics.ts";

/** Records [from, next) of a partition read at `at` for a group. */
interface Delivery {
  from: number;
  readonly next: number;
  readonly at: number;
}

/** A claimed record waiting for its ack. */
interface Claim {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly at: number;
}

/** The group consumers' side: reads for a group, then its commits (GroupService). */
export interface GroupProcessingObserver {
  committed(group: string, stream: string, partition: number, offset: number): void;
}

/** What the tracker keeps of a claimed record (QueueService's ClaimedRecord has it). */
export interface ClaimedDelivery {
  readonly receipt: string;
  readonly stream: string;
  readonly partition: number;
  readonly raw: { readonly offset: number };
}

/** The queues' side (QueueService): the deliveries of each claim, then each ack. */
export interface QueueProcessingObserver {
  claimed(group: string, deliveries: readonly ClaimedDelivery[]): void;
  acked(group: string, receipt: string): void;
}

export class ProcessingTracker implements GroupProcessingObserver, QueueProcessingObserver {
  /** Group reads by group, stream and partition, oldest first. */
  readonly #reads = new Map<string, Delivery[]>();
  #readCount = 0;
  /** Queue claims by group, then receipt, in claim order. */
  readonly #claims = new Map<string, Map<string, Claim>>();
  #claimCount = 0;

  constructor(
    private readonly detector: AnomalyDetector,
    private readonly maxTracked: number,
    private readonly metrics: AnomalyMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** A read for `group` delivered [from, next) of the partition. */
  delivered(group: string, stream: string, partition: number, from: number, next: number): void {
    if (next <= from) return;
    const key = readKey(group, stream, partition);
    let list = this.#reads.get(key);
    if (list === undefined) this.#reads.set(key, (list = []));
    list.push({ from, next, at: this.now() });
    this.#readCount++;
    this.#bound();
  }

  committed(group: string, stream: string, partition: number, offset: number): void {
    const key = readKey(group, stream, partition);
    const list = this.#reads.get(key);
    if (list === undefined) return;
    let earliest = Number.POSITIVE_INFINITY;
    let first = Number.POSITIVE_INFINITY;
    const kept: Delivery[] = [];
    for (const d of list) {
      if (d.from >= offset) {
        kept.push(d);
        continue;
      }
      earliest = Math.min(earliest, d.at);
      first = Math.min(first, d.from);
      // Records from `offset` on are still to be committed: they keep their read's time.
      if (d.next > offset) kept.push({ from: offset, next: d.next, at: d.at });
    }
    this.#readCount -= list.length - kept.length;
    if (kept.length === 0) this.#reads.delete(key);
    else this.#reads.set(key, kept);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.detector.processing("group_processing", { group, stream, partition, what: () => `${first === offset - 1 ? `offset ${first}` : `offsets ${first}..${offset - 1}`} (commit of ${offset})` }, this.now() - earliest);
  }

  claimed(group: string, deliveries: readonly ClaimedDelivery[]): void {
    const at = this.now();
    let claims = this.#claims.get(group);
    if (claims === undefined) this.#claims.set(group, (claims = new Map()));
    for (const d of deliveries) {
      if (!claims.has(d.receipt)) this.#claimCount++;
      claims.set(d.receipt, { stream: d.stream, partition: d.partition, offset: d.raw.offset, at });
    }
    this.#bound();
  }

  acked(group: string, receipt: string): void {
    const claims = this.#claims.get(group);
    if (claims === undefined) return;
    const claim = claims.get(receipt);
    if (claim === undefined) return;
    claims.delete(receipt);
    this.#claimCount--;
    if (claims.size === 0) this.#claims.delete(group);
    this.detector.processing("queue_processing", { group, stream: claim.stream, partition: claim.partition, what: () => `offset ${claim.offset}` }, this.now() - claim.at);
  }

  /** Forgets the oldest claims, then the oldest reads, past the bound. */
  #bound(): void {
    while (this.#claimCount + this.#readCount > this.maxTracked) {
      const oldestGroup = this.#claims.entries().next();
      if (!oldestGroup.done) {
        const [group, claims] = oldestGroup.value;
        claims.delete(claims.keys().next().value!);
        this.#claimCount--;
        if (claims.size === 0) this.#claims.delete(group);
      } else {
        const [key, list] = this.#reads.entries().next().value!;
        list.shift();
        this.#readCount--;
        if (list.length === 0) this.#reads.delete(key);
      }
      this.metrics.untracked.inc({ what: "delivery" });
    }
  }
}

function readKey(group: string, stream: string, partition: number): string {
  return `${group}\u0000${stream}\u0000${partition}`;
}
