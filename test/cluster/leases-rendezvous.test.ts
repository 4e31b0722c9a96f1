// Rendezvous hashing of partitions to gateways: every gateway computes the same owner from the
// same member list, shares are even, and a gateway joining or leaving moves only the partitions
// it wins or held.
import { expect, test } from "bun:test";
import { rendezvousOwner } from "../../gateway/cluster/rendezvous.ts";

const PARTITIONS = 2_000;
const owners = (nodes: string[]): (string | undefined)[] => Array.from({ length: PARTITIONS }, (_, p) => rendezvousOwner(nodes, `s${p % 7}`, p));

test("the owner does not depend on the order of the member list, and no members means no owner", () => {
  expect(owners(["a", "b", "c"])).toEqual(owners(["c", "a", "b"]));
  expect(rendezvousOwner([], "s", 0)).toBeUndefined();
});

test("four gateways get even shares", () => {
  const counts = new Map<string, number>();
  for (const o of owners(["gw-1", "gw-2", "gw-3", "gw-4"])) counts.set(o!, (counts.get(o!) ?? 0) + 1);
  expect(counts.size).toBe(4);
  // 500 each on average; a hash this good stays well within ±20 %.
  for (const n of counts.values()) expect(Math.abs(n - PARTITIONS / 4)).toBeLessThan(PARTITIONS / 4 / 5);
});

test("a joining gateway takes partitions only for itself; a leaving one gives away only its own", () => {
  const three = owners(["gw-1", "gw-2", "gw-3"]);
  const four = owners(["gw-1", "gw-2", "gw-3", "gw-4"]);
  for (let p = 0; p < PARTITIONS; p++) if (three[p] !== four[p]) expect(four[p]).toBe("gw-4");
  const two = owners(["gw-1", "gw-3"]);
  for (let p = 0; p < PARTITIONS; p++) if (three[p] !== two[p]) expect(three[p]).toBe("gw-2");
});
