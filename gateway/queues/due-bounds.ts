// Lower bounds on when a queue group next has work to find by scanning its unsettled records:
// the earliest in-flight deadline (an expiry) and, per stream, the earliest pending visible_at (a
// redelivery). A claim and the sweep scan only once `now` reaches the bound, instead of walking
// every unsettled record (up to queues.maxInFlightPerQueue) on every claim. Every transition into
// in_flight or pending lowers the bound to its time; a scan sets it to the exact earliest time
// it saw. A bound that is too low only costs a scan; a bound above a real due time would hide
// work, which is why a group with no bound yet (just loaded or reloaded) always scans.

interface GroupBounds {
  /** No in-flight deadline of the group is earlier. */
  expiry: number;
  /** Per stream: no pending record of the stream is visible earlier. A stream not listed has none. */
  readonly redelivery: Map<string, number>;
}

export class DueBounds {
  private readonly groups = new Map<string, GroupBounds>();

  /** Whether some in-flight record of the group may have passed its deadline at `now`. */
  mayExpire(group: string, now: number): boolean {
    const bounds = this.groups.get(group);
    return bounds === undefined || bounds.expiry <= now;
  }

  /** Whether some pending record of `stream` may be due at `now`. */
  mayRedeliver(group: string, stream: string, now: number): boolean {
    const bounds = this.groups.get(group);
    return bounds === undefined || (bounds.redelivery.get(stream) ?? Number.POSITIVE_INFINITY) <= now;
  }

  /** A record went in flight until `deadline`. */
  inFlight(group: string, deadline: number): void {
    const bounds = this.groups.get(group);
    if (bounds !== undefined) bounds.expiry = Math.min(bounds.expiry, deadline);
  }

  /** A record of `stream` is pending until `visibleAt`. */
  pending(group: string, stream: string, visibleAt: number): void {
    const bounds = this.groups.get(group);
    if (bounds !== undefined) bounds.redelivery.set(stream, Math.min(bounds.redelivery.get(stream) ?? Number.POSITIVE_INFINITY, visibleAt));
  }

  /** After a scan of every unsettled record: the exact earliest deadline and visible times it saw. */
  scanned(group: string, expiry: number, redelivery: ReadonlyMap<string, number>): void {
    this.groups.set(group, { expiry, redelivery: new Map(redelivery) });
  }

  /** After a scan of one stream's pending records: the earliest visible time that is left. */
  rescanned(group: string, stream: string, redelivery: number): void {
    this.groups.get(group)?.redelivery.set(stream, redelivery);
  }

  /** The group's records were replaced (a reload): scan before trusting any bound. */
  forget(group: string): void {
    this.groups.delete(group);
  }
}
