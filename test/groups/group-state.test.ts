// The membership state machine alone (no I/O): random joins, leaves, heartbeats and static
// restarts never break its invariants, and a partition is never in the latest answers of two
// live members at once (revocation is acknowledged before the new owner receives it).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { partitionKey, type PartitionKey } from "../../gateway/consumers/assignor.ts";
import { acknowledge, assertGroupInvariants, emptyGroup, join, leave, ownsSince, reconcile, replaceStatic, type GroupState } from "../../gateway/consumers/group-state.ts";

const partitionsOf = (stream: string) => (stream === "s" ? 6 : stream === "t" ? 3 : undefined);

/** A heartbeat carrying the member's epoch: acknowledge the last answer, reconcile, answer. */
function heartbeat(group: GroupState, id: string): { group: GroupState; answer: Set<PartitionKey> } {
  const next = reconcile(acknowledge(group, id), id);
  assertGroupInvariants(next);
  return { group: next, answer: new Set(next.members.get(id)!.assigned.keys()) };
}

function joinMember(group: GroupState, id: string, streams: string[], instance: string | null = null): GroupState {
  return join(group, { id, instance, streams, sessionTimeoutMs: 1000, joinedAt: 0 }, partitionsOf);
}

describe("group state machine", () => {
  test("a moving partition is revoked first and given to the new owner after the revocation is acknowledged", () => {
    let g = joinMember(emptyGroup("g"), "a", ["s"]);
    let a = heartbeat(g, "a");
    g = a.group;
    expect(a.answer.size).toBe(6);
    g = joinMember(g, "b", ["s"]);
    const b1 = heartbeat(g, "b");
    g = b1.group;
    expect(b1.answer.size).toBe(0);
    expect(g.members.get("b")!.state.kind).toBe("unreleased-partitions");
    a = heartbeat(g, "a"); // the answer revokes three partitions
    g = a.group;
    expect(a.answer.size).toBe(3);
    expect(g.members.get("a")!.state.kind).toBe("unrevoked-partitions");
    const b2 = heartbeat(g, "b"); // still held by a, not acknowledged
    g = b2.group;
    expect(b2.answer.size).toBe(0);
    a = heartbeat(g, "a"); // acknowledges
    g = a.group;
    expect(g.members.get("a")!.state.kind).toBe("stable");
    const b3 = heartbeat(g, "b");
    expect(b3.answer.size).toBe(3);
    expect(b3.group.members.get("b")!.state.kind).toBe("stable");
    for (const key of b3.answer) expect(a.answer.has(key)).toBe(false);
  });

  test("commits: a member owns a partition from the epoch it received it, and a revoked one until it acknowledges", () => {
    let g = heartbeat(joinMember(emptyGroup("g"), "a", ["s"]), "a").group;
    const key = partitionKey("s", 0);
    expect(ownsSince(g.members.get("a")!, key, 1)).toBe(true);
    expect(ownsSince(g.members.get("a")!, key, 0)).toBe(false);
    expect(ownsSince(g.members.get("a")!, key, 2)).toBe(false);
    g = heartbeat(joinMember(g, "b", ["s"]), "b").group;
    g = heartbeat(g, "a").group;
    const a = g.members.get("a")!;
    const revoked = a.state.kind === "unrevoked-partitions" ? [...a.state.revoking][0]! : "";
    expect(ownsSince(a, revoked, a.epoch)).toBe(true);
    g = heartbeat(g, "a").group;
    expect(ownsSince(g.members.get("a")!, revoked, g.members.get("a")!.epoch)).toBe(false);
  });

  test("a static member replaced under a new id keeps its partitions and the group epoch", () => {
    let g = heartbeat(joinMember(emptyGroup("g"), "a", ["s"], "worker-1"), "a").group;
    g = heartbeat(joinMember(g, "b", ["s"]), "b").group;
    g = heartbeat(g, "a").group;
    g = heartbeat(g, "a").group;
    g = heartbeat(g, "b").group;
    const before = [...g.members.get("a")!.assigned.keys()];
    const epoch = g.epoch;
    g = replaceStatic(g, "a", "a2", 1);
    assertGroupInvariants(g);
    const after = heartbeat(g, "a2");
    expect([...after.answer].sort()).toEqual(before.sort());
    expect(after.group.epoch).toBe(epoch);
    expect(after.group.members.has("a")).toBe(false);
  });

  test("property: random membership changes keep the invariants and never give a partition to two live members", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("join" as const), id: fc.integer({ min: 0, max: 5 }), both: fc.boolean() }),
      fc.record({ kind: fc.constant("leave" as const), id: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant("heartbeat" as const), id: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant("restart" as const), id: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        let g = emptyGroup("g");
        // What each live member was last told it owns (it works on exactly these).
        const believed = new Map<string, Set<PartitionKey>>();
        let restarts = 0;
        const idOf = (n: number) => [...g.members.values()].find((m) => m.instance === `i${n}`)?.id;
        for (const o of ops) {
          const id = idOf(o.id);
          if (o.kind === "join" && id === undefined) {
            g = joinMember(g, `m${o.id}-${restarts++}`, o.both ? ["s", "t"] : ["s"], `i${o.id}`);
          } else if (o.kind === "leave" && id !== undefined) {
            g = leave(g, id, partitionsOf);
            believed.delete(id);
          } else if (o.kind === "restart" && id !== undefined) {
            const fresh = `m${o.id}-${restarts++}`;
            g = replaceStatic(g, id, fresh, 0);
            believed.delete(id);
          } else if (o.kind === "heartbeat" && id !== undefined) {
            const r = heartbeat(g, id);
            g = r.group;
            believed.set(id, r.answer);
          }
          assertGroupInvariants(g);
          const seen = new Map<PartitionKey, string>();
          for (const [member, keys] of believed) {
            for (const key of keys) {
              expect(seen.get(key)).toBeUndefined();
              seen.set(key, member);
            }
          }
        }
        // Heartbeating everyone to a fixed point reaches every member stable with every partition owned.
        for (let round = 0; round < 4; round++) for (const id of [...g.members.keys()]) g = heartbeat(g, id).group;
        for (const m of g.members.values()) expect(m.state.kind).toBe("stable");
        if ([...g.members.values()].some((m) => m.streams.includes("s"))) {
          const owned = [...g.members.values()].reduce((n, m) => n + m.assigned.size, 0);
          const wanted = 6 + ([...g.members.values()].some((m) => m.streams.includes("t")) ? 3 : 0);
          expect(owned).toBe(wanted);
        }
      }),
      { numRuns: 300 },
    );
  });
});
