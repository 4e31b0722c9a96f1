// The claim path's due bounds alone: a group without a scan always scans; after one, a scan is
// due exactly when the earliest deadline or visible time it saw (or one added since) comes.
import { describe, expect, test } from "bun:test";
import { DueBounds } from "../../gateway/queues/due-bounds.ts";

describe("DueBounds", () => {
  test("a group never scanned, or forgotten, always scans", () => {
    const due = new DueBounds();
    expect(due.mayExpire("g", 0)).toBe(true);
    expect(due.mayRedeliver("g", "s", 0)).toBe(true);
    due.scanned("g", 100, new Map());
    expect(due.mayExpire("g", 50)).toBe(false);
    due.forget("g");
    expect(due.mayExpire("g", 50)).toBe(true);
    expect(due.mayRedeliver("g", "s", 50)).toBe(true);
  });

  test("after a scan, work is due at the earliest time seen or added since", () => {
    const due = new DueBounds();
    due.scanned("g", 100, new Map([["s", 200]]));
    expect(due.mayExpire("g", 99)).toBe(false);
    expect(due.mayExpire("g", 100)).toBe(true);
    expect(due.mayRedeliver("g", "s", 199)).toBe(false);
    expect(due.mayRedeliver("g", "s", 200)).toBe(true);
    expect(due.mayRedeliver("g", "other", 1e15)).toBe(false);
    due.inFlight("g", 40);
    due.inFlight("g", 400);
    expect(due.mayExpire("g", 40)).toBe(true);
    due.pending("g", "other", 70);
    expect(due.mayRedeliver("g", "other", 69)).toBe(false);
    expect(due.mayRedeliver("g", "other", 70)).toBe(true);
    due.rescanned("g", "other", Number.POSITIVE_INFINITY);
    expect(due.mayRedeliver("g", "other", 1e15)).toBe(false);
    expect(due.mayRedeliver("h", "other", 0)).toBe(true);
  });
});
