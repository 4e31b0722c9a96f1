// The target assignor alone: balanced (floor/ceil with one shared subscription), sticky (a join
// or a leave moves only what the balance needs), and sensible with different subscriptions.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { assignPartitions, partitionKey, type AssignorMember, type PartitionKey } from "../../gateway/consumers/assignor.ts";

type Target = Map<string, Set<PartitionKey>>;

function members(ids: readonly string[], streams: readonly string[]): AssignorMember[] {
  return ids.map((id) => ({ id, streams: new Set(streams) }));
}

function sizes(target: Target): number[] {
  return [...target.values()].map((s) => s.size);
}

function moved(before: Target, after: Target): number {
  let n = 0;
  for (const [id, keys] of after) for (const key of keys) if (!(before.get(id)?.has(key) ?? false)) n++;
  return n;
}

function owners(target: Target): Map<PartitionKey, string> {
  const out = new Map<PartitionKey, string>();
  for (const [id, keys] of target) {
    for (const key of keys) {
      expect(out.has(key)).toBe(false);
      out.set(key, id);
    }
  }
  return out;
}

describe("assignPartitions", () => {
  test("members joining one by one stay balanced and only the new member's share moves", () => {
    const counts = new Map([["a", 5], ["b", 3]]);
    const partitionsOf = (s: string) => counts.get(s);
    let target: Target = new Map();
    const ids: string[] = [];
    for (const id of ["m1", "m2", "m3", "m4", "m5"]) {
      ids.push(id);
      const next = assignPartitions(members(ids, ["a", "b"]), partitionsOf, target);
      const s = sizes(next);
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      expect(owners(next).size).toBe(8);
      // The newcomer receives floor(8/M) or ceil(8/M); nothing else moves.
      expect(moved(target, next)).toBe(next.get(id)!.size);
      target = next;
    }
  });

  test("a leave moves exactly the leaver's partitions", () => {
    const partitionsOf = () => 12;
    const four = assignPartitions(members(["a", "b", "c", "d"], ["s"]), partitionsOf, new Map());
    const previous = new Map([...four].filter(([id]) => id !== "c"));
    const three = assignPartitions(members(["a", "b", "d"], ["s"]), partitionsOf, previous);
    expect(sizes(three)).toEqual([4, 4, 4]);
    expect(moved(previous, three)).toBe(3);
  });

  test("different subscriptions: each partition goes to a subscriber, balanced as far as they allow", () => {
    const counts = new Map([["x", 4], ["y", 4]]);
    const target = assignPartitions(
      [
        { id: "a", streams: new Set(["x"]) },
        { id: "b", streams: new Set(["x", "y"]) },
        { id: "c", streams: new Set(["y"]) },
      ],
      (s) => counts.get(s),
      new Map(),
    );
    const owner = owners(target);
    expect(owner.size).toBe(8);
    for (let p = 0; p < 4; p++) {
      expect(["a", "b"]).toContain(owner.get(partitionKey("x", p))!);
      expect(["b", "c"]).toContain(owner.get(partitionKey("y", p))!);
    }
    expect(sizes(target).sort()).toEqual([2, 3, 3]);
  });

  test("a stream that does not exist is assigned nothing", () => {
    const target = assignPartitions(members(["a"], ["gone"]), () => undefined, new Map());
    expect(target.get("a")!.size).toBe(0);
  });

  test("property: any sequence of joins and leaves keeps floor/ceil balance and moves no more than needed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 30 }), (partitions, steps) => {
        let target: Target = new Map();
        const present = new Set<string>();
        for (const [joins, n] of steps) {
          const id = `m${n}`;
          if (joins) present.add(id);
          else present.delete(id);
          const previous = new Map([...target].filter(([m]) => present.has(m)));
          const next = assignPartitions(members([...present], ["s"]), () => partitions, previous);
          if (present.size === 0) continue;
          const s = sizes(next);
          const floor = Math.floor(partitions / present.size);
          for (const size of s) expect(size === floor || size === Math.ceil(partitions / present.size)).toBe(true);
          expect(owners(next).size).toBe(partitions);
          // Lower bound of moves: partitions with no surviving owner, plus what members above ceil must shed.
          const orphans = partitions - [...previous.values()].reduce((n, k) => n + k.size, 0);
          const ceil = Math.ceil(partitions / present.size);
          const excess = [...previous.values()].reduce((n, k) => n + Math.max(0, k.size - ceil), 0);
          const deficit = [...present].reduce((n, id) => n + Math.max(0, floor - (previous.get(id)?.size ?? 0)), 0);
          expect(moved(previous, next)).toBeLessThanOrEqual(Math.max(orphans + excess, deficit));
          target = next;
        }
      }),
      { numRuns: 200 },
    );
  });
});
