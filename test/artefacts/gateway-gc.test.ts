// Artefact GC against a live gateway: artefacts referenced by retained records stay readable,
// unreferenced manifests and their chunks go, packs are rewritten and the pack bytes in the
// object store shrink; the grace period protects fresh uploads; refs of records retention
// removed stop counting.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { openDatabase } from "../../gateway/db/database.ts";
import { ArtefactRefIndex } from "../../gateway/artefacts/artefact-ref-index.ts";
import type { GcSummary } from "../../gateway/artefacts/artefact-gc.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { chunkFile, missing, randomBytes, upload, type ChunkedFile } from "./gateway-fixture.ts";

const SMALL = { maxChunkBytes: 64 * 1024, maxChunkRequestBytes: 1024 * 1024, packIdleMs: 5, packMaxBytes: 256 * 1024, readBlockBytes: 32 * 1024 };
let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway({ artefacts: { ...SMALL, gcGraceMs: 0, gcRewriteMinDeadFraction: 0 } });
});
afterAll(async () => {
  await gw?.close();
});

async function packBytesInStore(g: LiveGateway): Promise<number> {
  let total = 0;
  for await (const o of g.gateway.objectStore.list("packs/")) total += o.size;
  return total;
}

async function gc(g: LiveGateway): Promise<GcSummary> {
  const res = await fetch(`${g.url}/v1/admin/gc`, { method: "POST" });
  expect(res.status).toBe(200);
  return (await res.json()) as GcSummary;
}

function hexes(f: ChunkedFile): string[] {
  return f.chunks.map((c) => bytesToHex(c.hash));
}

async function publishRef(g: LiveGateway, stream: string, f: ChunkedFile): Promise<void> {
  const res = await fetch(`${g.url}/v1/streams/${encodeURIComponent(stream)}/records`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ records: [{ fields: { note: "v1", nested: [{ artefact: { $artefact: { manifest: f.id, size: f.bytes.length, mediaType: f.manifest.mediaType } } }] } }] }),
  });
  expect(res.status).toBe(200);
}

test("GC keeps referenced artefacts and reclaims the chunks only dead ones used", async () => {
  expect((await fetch(`${gw.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: "models/a" }) })).status).toBe(201);
  const a = chunkFile(randomBytes(600_000, 51));
  // B shares A's first half; C shares nothing.
  const bBytes = new Uint8Array(600_000);
  bBytes.set(a.bytes.subarray(0, 300_000));
  bBytes.set(randomBytes(300_000, 52), 300_000);
  const b = chunkFile(bBytes);
  const c = chunkFile(randomBytes(400_000, 53));
  await upload(gw.url, a);
  await upload(gw.url, b);
  await upload(gw.url, c);
  await publishRef(gw, "models/a", a);
  const sharedWithA = new Set(hexes(a));
  const bOnly = hexes(b).filter((h) => !sharedWithA.has(h));
  expect(bOnly.length).toBeGreaterThan(10);
  expect(bOnly.length).toBeLessThan(b.chunks.length);

  const before = await packBytesInStore(gw);
  const summary = await gc(gw);
  const after = await packBytesInStore(gw);
  expect(summary.manifests_deleted).toBe(2);
  expect(summary.manifests_live).toBe(1);
  expect(summary.chunks_deleted).toBe(new Set([...bOnly, ...hexes(c)]).size);
  expect(summary.bytes_before).toBe(before);
  expect(summary.bytes_after).toBe(after);
  expect(after).toBeLessThan(before);
  expect(after).toBeLessThan(a.bytes.length * 1.1);

  // A still reads byte for byte (its chunks were moved into new packs).
  const body = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${a.id}`)).arrayBuffer());
  expect(Buffer.compare(body, a.bytes)).toBe(0);
  expect(await missing(gw.url, hexes(a))).toEqual([]);
  expect(new Set(await missing(gw.url, hexes(b)))).toEqual(new Set(bOnly));
  expect(new Set(await missing(gw.url, hexes(c)))).toEqual(new Set(hexes(c)));
  expect((await fetch(`${gw.url}/v1/manifests/${b.id}`)).status).toBe(404);
  expect((await fetch(`${gw.url}/v1/artefacts/${c.id}`)).status).toBe(404);

  // B can be pushed again: only its own chunks move.
  expect((await upload(gw.url, b)).uploaded).toBe(new Set(bOnly).size);

  // A second GC (after B's manifest is referenced too) has nothing left to take.
  await publishRef(gw, "models/a", b);
  const again = await gc(gw);
  expect([again.chunks_deleted, again.manifests_deleted]).toEqual([0, 0]);
  const bBody = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${b.id}`)).arrayBuffer());
  expect(Buffer.compare(bBody, b.bytes)).toBe(0);
});

test("the grace period protects fresh uploads that no record references yet", async () => {
  const g = await liveGateway({ artefacts: { ...SMALL, gcRewriteMinDeadFraction: 0 } });
  try {
    const d = chunkFile(randomBytes(200_000, 61));
    await upload(g.url, d);
    // Chunks uploaded without a manifest (a push in progress) are protected too.
    const e = chunkFile(randomBytes(100_000, 62));
    const res = await fetch(`${g.url}/v1/chunks`, {
      method: "PUT",
      headers: { "content-type": "application/msgpack" },
      body: (await import("@msgpack/msgpack")).encode({ chunks: e.chunks.map((c) => [c.hash, e.bytes.subarray(c.offset, c.offset + c.length)]) }),
    });
    expect(res.status).toBe(200);
    const summary = await gc(g);
    expect([summary.manifests_deleted, summary.chunks_deleted, summary.packs_deleted]).toEqual([0, 0, 0]);
    expect(await missing(g.url, [...hexes(d), ...hexes(e)])).toEqual([]);
  } finally {
    await g.close();
  }
});

test("small packs are merged into one, and everything in them still reads", async () => {
  const g = await liveGateway({ artefacts: { ...SMALL, gcGraceMs: 0 } });
  try {
    expect((await fetch(`${g.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: "configs" }) })).status).toBe(201);
    const files = Array.from({ length: 6 }, (_, i) => chunkFile(randomBytes(3000 + 100 * i, 70 + i)));
    for (const f of files) {
      await upload(g.url, f);
      await publishRef(g, "configs", f);
    }
    const keys = async () => {
      const out: string[] = [];
      for await (const o of g.gateway.objectStore.list("packs/")) out.push(o.key);
      return out;
    };
    expect((await keys()).length).toBe(6);
    const summary = await gc(g);
    expect([summary.packs_rewritten, summary.packs_written, summary.chunks_deleted, summary.manifests_deleted]).toEqual([6, 1, 0, 0]);
    expect((await keys()).length).toBe(1);
    for (const f of files) {
      const body = new Uint8Array(await (await fetch(`${g.url}/v1/artefacts/${f.id}`)).arrayBuffer());
      expect(Buffer.compare(body, f.bytes)).toBe(0);
    }
    // Nothing left to merge: a lone pack is not copied again.
    const again = await gc(g);
    expect([again.packs_rewritten, again.packs_written]).toEqual([0, 0]);
  } finally {
    await g.close();
  }
});

test("refs of records that retention removed stop keeping manifests alive", async () => {
  const dir = tempDir();
  const database = await openDatabase(`file:${dir}/refs.db`);
  try {
    const refs = new ArtefactRefIndex(database.db);
    const [m1, m2, m3] = ["1", "2", "3"].map((d) => d.repeat(64));
    await refs.add("s", 0, 5, [m1!]);
    await refs.add("s", 0, 20, [m2!]);
    await refs.add("gone", 0, 0, [m3!]);
    await refs.add("s", 0, 20, [m2!]); // idempotent
    const startOffsets = new Map([["s/0", 10]]);
    const live = await refs.live((stream, partition) => startOffsets.get(`${stream}/${partition}`));
    expect([...live].sort()).toEqual([m2!]);
  } finally {
    database.close();
    removeDir(dir);
  }
});
