// Group persistence on a real metadata database file: a state written and loaded back is the
// same state, and saving a state whose only change is the heartbeat time writes nothing.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { acknowledge, emptyGroup, join as joinGroup, reconcile, type GroupState } from "../../gateway/consumers/group-state.ts";
import { GroupStore } from "../../gateway/consumers/group-store.ts";
import { openDatabase } from "../../gateway/db/database.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const dir = tempDir("strata-group-store-");
afterAll(() => removeDir(dir));

const partitionsOf = (stream: string) => (stream === "s" ? 5 : undefined);

function heartbeat(group: GroupState, id: string): GroupState {
  return reconcile(acknowledge(group, id), id);
}

test("a saved group loads back the same; an unchanged state is not written again", async () => {
  const url = `file:${join(dir, "meta.db")}`;
  const database = await openDatabase(url);
  const store = new GroupStore(database.db);
  expect(await store.load()).toEqual([]);
  let g = joinGroup(emptyGroup("g"), { id: "a", instance: "i-a", streams: ["s"], sessionTimeoutMs: 1000, joinedAt: 1 }, partitionsOf);
  g = heartbeat(g, "a");
  g = joinGroup(g, { id: "b", instance: null, streams: ["s"], sessionTimeoutMs: 2000, joinedAt: 2 }, partitionsOf);
  g = heartbeat(g, "b");
  g = heartbeat(g, "a"); // revokes: a is unrevoked-partitions, b unreleased-partitions
  expect(g.members.get("a")!.state.kind).toBe("unrevoked-partitions");
  expect(g.members.get("b")!.state.kind).toBe("unreleased-partitions");
  let clock = 100;
  expect(await store.save(g, () => clock)).toBe(true);
  clock = 200;
  expect(await store.save(g, () => clock)).toBe(false);
  expect(await store.save(heartbeat(g, "b"), () => clock)).toBe(false); // b still awaits a's release: nothing changed
  database.close();

  const reopened = await openDatabase(url);
  const loaded = await new GroupStore(reopened.db).load();
  expect(loaded).toEqual([g]);
  g = heartbeat(g, "a"); // acknowledges
  const store2 = new GroupStore(reopened.db);
  await store2.load();
  expect(await store2.save(g, () => clock)).toBe(true);
  expect((await new GroupStore(reopened.db).load())[0]!.members.get("a")!.state.kind).toBe("stable");
  reopened.close();
});
