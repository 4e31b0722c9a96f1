// The chunk store under GC, on a real libSQL file and a real local object store: a reader that
// located a chunk before GC moved it still gets the verified bytes; a pack whose dead chunks were
// touched while GC ran is left alone (the index transaction re-checks them).
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { encodeManifest, manifestId } from "../../core/artefacts/manifest.ts";
import { openDatabase } from "../../gateway/db/database.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import { openArtefacts } from "../../gateway/artefacts/artefacts.ts";
import { ChunkIndex } from "../../gateway/artefacts/chunk-index.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { randomBytes } from "./gateway-fixture.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

test("a stale chunk location (pack rewritten by GC) is looked up again and the chunk still reads", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const database = await openDatabase(`file:${join(dir, "meta.db")}`);
  const store = await LocalObjectStore.open(join(dir, "objects"));
  const artefacts = await openArtefacts({
    db: database.db,
    store,
    dataDir: dir,
    registry: createGatewayMetrics().registry,
    limits: { gcGraceMs: 0, gcRewriteMinDeadFraction: 0, memoryCacheBytes: 0, chunkCacheBytes: 0, diskCacheBytes: 0, gcIntervalMs: 0 },
    startOffsetOf: (stream) => (stream === "s" ? 0 : undefined),
  });
  try {
    const live = Array.from({ length: 4 }, (_, i) => randomBytes(5000 + i, 200 + i));
    const dead = Array.from({ length: 4 }, (_, i) => randomBytes(6000 + i, 300 + i));
    // One request: all eight chunks land in one pack.
    expect(await artefacts.chunkStore.put([...live, ...dead].map((d) => ({ hash: blake3(d), data: d })))).toEqual({ stored: 8, existing: 0 });
    const size = live.reduce((n, d) => n + d.length, 0);
    const manifest = encodeManifest({ v: 1, size, mediaType: "a/b", chunks: live.map((d) => ({ hash: blake3(d), length: d.length })) });
    const id = manifestId(manifest);
    expect((await artefacts.services.manifests.put(id, manifest)).outcome).toBe("created");
    await artefacts.onArtefactRefs("s", 0, 0, [id]);

    const hex = bytesToHex(blake3(live[2]!));
    const stale = (await artefacts.chunkStore.index.locateMany([hex])).get(hex)!;
    const summary = await artefacts.services.gc.run();
    expect([summary.packs_rewritten, summary.chunks_deleted, summary.manifests_live]).toEqual([1, 4, 1]);
    const fresh = (await artefacts.chunkStore.index.locateMany([hex])).get(hex)!;
    expect(fresh.pack).not.toBe(stale.pack);
    expect(await artefacts.chunkStore.read(hex, stale)).toEqual(live[2]!);
    expect(await artefacts.chunkStore.missing(dead.map((d) => bytesToHex(blake3(d))))).toHaveLength(4);
  } finally {
    await artefacts.close();
    await store.close();
    database.close();
  }
});

test("rewritePack refuses to drop a dead chunk that was touched after GC's cutoff", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const database = await openDatabase(`file:${join(dir, "meta.db")}`);
  try {
    const index = new ChunkIndex(database.db);
    const entries = [
      { hash: "a".repeat(64), offset: 44, length: 10 },
      { hash: "b".repeat(64), offset: 90, length: 10 },
    ];
    await index.commitPack({ id: "p1", objectKey: "packs/p1.pack", bytes: 100, chunkCount: 2, createdAt: 1 }, entries, 100);
    // GC decided at cutoff 50 that both are dead, but one was seen at 100 >= 50: refused.
    await index.touchPresent(["b".repeat(64)], 100);
    expect(await index.rewritePack("p1", null, [], ["a".repeat(64), "b".repeat(64)], 50)).toBe(false);
    expect((await index.packChunks("p1")).length).toBe(2);
    expect((await index.listPacks()).map((p) => p.id)).toEqual(["p1"]);
    // With a later cutoff both are dead and the pack goes, atomically.
    expect(await index.rewritePack("p1", null, [], ["a".repeat(64), "b".repeat(64)], 101)).toBe(true);
    expect(await index.packChunks("p1")).toEqual([]);
    expect(await index.listPacks()).toEqual([]);
  } finally {
    database.close();
  }
});
