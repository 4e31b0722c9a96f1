// The artefact engine of two gateways of a cluster on one real libSQL server (sqld) and one
// radosgw bucket: concurrent pushes dedupe into one chunk index, each gateway's packs under its
// node name, start-up recovery never indexes another gateway's pack in flight, pack commits fenced
// by the node's live incarnation and the commit window, GC only on the holder of the
// "artefact-gc" lock (a rewrite whose lock was taken over commits nothing), and unindexed packs
// deleted only past ORPHAN_MIN_AGE_MS. Membership rows and the lock are written here in SQL, as
// the cluster layer would.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { encodeManifest, manifestId } from "../../core/artefacts/manifest.ts";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { isStrataError } from "../../core/errors.ts";
import { openArtefacts, type Artefacts } from "../../gateway/artefacts/artefacts.ts";
import { DB_NOW_MS, GC_LOCK, ORPHAN_MIN_AGE_MS, PACK_COMMIT_WINDOW_MS } from "../../gateway/artefacts/node-fence.ts";
import { PackBuilder, packKey, parsePackKey } from "../../gateway/artefacts/pack-format.ts";
import { openDatabase, type Database, type MetadataDb } from "../../gateway/db/database.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import type { ObjectStore } from "../../gateway/objects/object-store.ts";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";
import { randomBytes } from "../artefacts/gateway-fixture.ts";

const LIMITS = { packIdleMs: 5, gcIntervalMs: 0, gcGraceMs: 0, gcRewriteMinDeadFraction: 0, memoryCacheBytes: 0, chunkCacheBytes: 0, diskCacheBytes: 0 };

let sqld: SqldServer;
let s3: S3TestStore;
let database: Database;
const dirs: string[] = [];
const stores: ObjectStore[] = [];

beforeAll(async () => {
  [sqld, s3] = await Promise.all([startSqld(), startS3()]);
  database = await openDatabase(sqld.url);
}, 300_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  database?.close();
  await sqld?.stop();
  await s3?.stop();
  dirs.forEach(removeDir);
});

/** A fresh bucket prefix: each test is its own cluster's object store. */
async function objectStore(): Promise<ObjectStore> {
  const store = await S3ObjectStore.open({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    prefix: `artefacts-cluster-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  stores.push(store);
  return store;
}

/** What the cluster layer does at a node's start: a live row with a new incarnation. */
async function join(db: MetadataDb, node: string): Promise<number> {
  const row = await db.get<{ incarnation: number }>(sql`
    INSERT INTO cluster_nodes (node, url, incarnation, state, started_at, heartbeat_at, expires_at)
    VALUES (${node}, ${`http://${node}`}, 1, 'up', ${DB_NOW_MS}, ${DB_NOW_MS}, ${DB_NOW_MS} + 600000)
    ON CONFLICT (node) DO UPDATE SET incarnation = incarnation + 1, state = 'up', expires_at = excluded.expires_at
    RETURNING incarnation`);
  return row.incarnation;
}

async function setNodeExpiry(db: MetadataDb, node: string, expiresInMs: number): Promise<void> {
  await db.run(sql`UPDATE cluster_nodes SET expires_at = ${DB_NOW_MS} + ${expiresInMs} WHERE node = ${node}`);
}

async function grantGcLock(db: MetadataDb, node: string): Promise<void> {
  await db.run(sql`
    INSERT INTO cluster_locks (name, holder, epoch, expires_at) VALUES (${GC_LOCK}, ${node}, 1, ${DB_NOW_MS} + 600000)
    ON CONFLICT (name) DO UPDATE SET holder = ${node}, epoch = epoch + 1, expires_at = excluded.expires_at`);
}

interface Engine {
  readonly node: string;
  readonly artefacts: Artefacts;
  /** What gcAllowed() answers: the cluster layer's view of the GC lock, which may lag the database. */
  gcLock: boolean;
}

async function openEngine(node: string, store: ObjectStore, dataDir: string): Promise<Engine> {
  const incarnation = await join(database.db, node);
  const engine: { gcLock: boolean } = { gcLock: false };
  const artefacts = await openArtefacts({
    db: database.db,
    store,
    dataDir,
    limits: LIMITS,
    registry: createGatewayMetrics().registry,
    startOffsetOf: (stream) => (stream === "s" ? 0 : undefined),
    cluster: { node, incarnation, gcAllowed: () => engine.gcLock },
  });
  return Object.assign(engine, { node, artefacts });
}

function newDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

function chunkUploads(count: number, seed: number, size = 3000): { hash: Uint8Array; data: Uint8Array; hex: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const data = randomBytes(size + i, seed + i);
    const hash = blake3(data);
    return { hash, data, hex: bytesToHex(hash) };
  });
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isStrataError(e)) return e.code;
    throw e;
  }
  return "resolved";
}

/** A pack object as an upload cut short would leave it, under `node`'s prefix, with an id `ageMs` old. */
async function leftoverPack(store: ObjectStore, node: string, chunks: readonly { hash: Uint8Array; data: Uint8Array }[], ageMs = 0): Promise<string> {
  const builder = new PackBuilder();
  for (const c of chunks) builder.append(c.hash, c.data);
  const id = `${(Date.now() - ageMs).toString(16).padStart(16, "0")}-${builder.id.slice(17)}`;
  const key = packKey(id, { kind: "node", node });
  await store.put(key, builder.encode());
  return key;
}

async function clearMetadata(): Promise<void> {
  for (const table of ["chunks", "packs", "manifests", "manifest_refs", "cluster_nodes", "cluster_locks", "partitions", "streams"]) await database.db.run(sql.raw(`DELETE FROM ${table}`));
}

test("pushes of the same chunks through two gateways at once dedupe into one chunk index; each gateway's packs carry its node name", async () => {
  await clearMetadata();
  const store = await objectStore();
  const a = await openEngine("gw-a", store, newDir());
  const b = await openEngine("gw-b", store, newDir());
  try {
    const all = chunkUploads(60, 1000);
    // Overlapping halves, and one set both push whole, at the same time, in several requests.
    const pushes: Promise<unknown>[] = [];
    for (let round = 0; round < 4; round++) {
      pushes.push(a.artefacts.chunkStore.put(all.slice(0, 40)), b.artefacts.chunkStore.put(all.slice(20, 60)));
      pushes.push(a.artefacts.chunkStore.put(all.slice(40, 50)), b.artefacts.chunkStore.put(all.slice(40, 50)));
    }
    await Promise.all(pushes);

    expect(await a.artefacts.chunkStore.index.chunkCount()).toBe(60);
    expect(await a.artefacts.chunkStore.missing(all.map((c) => c.hex))).toEqual([]);
    expect(await b.artefacts.chunkStore.missing(all.map((c) => c.hex))).toEqual([]);
    // Every chunk reads on both gateways, whichever wrote its pack.
    const located = await b.artefacts.chunkStore.locateAll(all.map((c) => c.hex));
    for (const c of all) {
      const loc = located.get(c.hex)!;
      expect(await a.artefacts.chunkStore.read(c.hex, loc)).toEqual(c.data);
      expect(await b.artefacts.chunkStore.read(c.hex, loc)).toEqual(c.data);
    }
    // Pack objects live only under the writers' node prefixes; every indexed pack exists and
    // holds at least one indexed chunk (a pack whose chunks all lost the race was dropped).
    const objects = await keys(store, "packs/");
    expect(objects.length).toBeGreaterThan(0);
    expect(new Set(objects.map((k) => parsePackKey(k)?.node))).toEqual(new Set(["gw-a", "gw-b"]));
    const packs = await a.artefacts.chunkStore.index.listPacks();
    expect(packs.map((p) => p.objectKey).sort()).toEqual(objects);
    for (const p of packs) expect((await a.artefacts.chunkStore.index.packChunks(p.id)).length).toBeGreaterThan(0);
  } finally {
    await a.artefacts.close();
    await b.artefacts.close();
  }
}, 120_000);

test("a restart of one gateway indexes its own leftover packs, never another gateway's pack in flight, nor its own past the commit window", async () => {
  await clearMetadata();
  const store = await objectStore();
  const dirA = newDir();
  let a = await openEngine("gw-a", store, dirA);
  const b = await openEngine("gw-b", store, newDir());
  const mine = chunkUploads(5, 2000);
  const theirs = chunkUploads(5, 3000);
  const stale = chunkUploads(5, 4000);
  try {
    const mineKey = await leftoverPack(store, "gw-a", mine);
    const theirsKey = await leftoverPack(store, "gw-b", theirs);
    const staleKey = await leftoverPack(store, "gw-a", stale, PACK_COMMIT_WINDOW_MS + 60_000);
    await a.artefacts.close();
    a = await openEngine("gw-a", store, dirA);

    const index = a.artefacts.chunkStore.index;
    expect(await a.artefacts.chunkStore.missing(mine.map((c) => c.hex))).toEqual([]);
    expect(await a.artefacts.chunkStore.missing(theirs.map((c) => c.hex))).toEqual(theirs.map((c) => c.hex));
    expect(await a.artefacts.chunkStore.missing(stale.map((c) => c.hex))).toEqual(stale.map((c) => c.hex));
    expect((await index.listPacks()).map((p) => p.objectKey)).toEqual([mineKey]);
    // Nothing was deleted: gw-b's pack is its own to commit, the stale one GC's to collect.
    expect(await keys(store, "packs/")).toEqual([mineKey, theirsKey, staleKey].sort());

    // gw-b's own restart indexes its pack.
    await b.artefacts.close();
    const b2 = await openEngine("gw-b", store, newDir());
    try {
      expect(await b2.artefacts.chunkStore.missing(theirs.map((c) => c.hex))).toEqual([]);
      for (const c of theirs) expect(await a.artefacts.chunkStore.read(c.hex, (await index.locateMany([c.hex])).get(c.hex)!)).toEqual(c.data);
    } finally {
      await b2.artefacts.close();
    }
  } finally {
    await a.artefacts.close();
    await b.artefacts.close().catch(() => undefined);
  }
}, 120_000);

test("a pack commit is fenced by the node's live incarnation: an expired or restarted node indexes nothing and its pack is left for GC", async () => {
  await clearMetadata();
  const store = await objectStore();
  const a = await openEngine("gw-a", store, newDir());
  try {
    const first = chunkUploads(3, 5000);
    expect(await a.artefacts.chunkStore.put(first)).toEqual({ stored: 3, existing: 0 });

    // Membership lapsed (a paused gateway): the commit is refused in its transaction.
    await setNodeExpiry(database.db, "gw-a", -1);
    const fenced = chunkUploads(3, 6000);
    expect(await codeOf(a.artefacts.chunkStore.put(fenced))).toBe("LEASE_LOST");
    expect(await a.artefacts.chunkStore.missing(fenced.map((c) => c.hex))).toEqual(fenced.map((c) => c.hex));
    const packs = await a.artefacts.chunkStore.index.listPacks();
    expect(packs).toHaveLength(1);
    const objects = await keys(store, "packs/gw-a/");
    expect(objects).toHaveLength(2);
    const left = objects.filter((k) => k !== packs[0]!.objectKey);
    expect(left).toHaveLength(1);

    // Another start of the same node (a newer incarnation) fences the old process just the same.
    await join(database.db, "gw-a");
    const late = chunkUploads(3, 7000);
    expect(await codeOf(a.artefacts.chunkStore.put(late))).toBe("LEASE_LOST");
    expect(await a.artefacts.chunkStore.index.chunkCount()).toBe(3);

    // The commit window, judged by the database's clock, refuses a pack sealed too long ago.
    const old = `${(Date.now() - PACK_COMMIT_WINDOW_MS - 60_000).toString(16).padStart(16, "0")}-0123456789abcdef`;
    const fresh = await openEngine("gw-c", store, newDir());
    try {
      const row = { id: old, objectKey: packKey(old, { kind: "node", node: "gw-c" }), bytes: 100, chunkCount: 0, createdAt: Date.now() };
      expect(await codeOf(fresh.artefacts.chunkStore.index.commitPack(row, [], Date.now()))).toBe("UNAVAILABLE");
    } finally {
      await fresh.artefacts.close();
    }
  } finally {
    await a.artefacts.close();
  }
}, 120_000);

test("GC runs only on the holder of the artefact-gc lock; a rewrite whose lock was taken over commits nothing; orphans go only past ORPHAN_MIN_AGE_MS", async () => {
  await clearMetadata();
  const store = await objectStore();
  const a = await openEngine("gw-a", store, newDir());
  const b = await openEngine("gw-b", store, newDir());
  try {
    // One pack of live and dead chunks: GC wants to rewrite it.
    const live = chunkUploads(4, 8000);
    const dead = chunkUploads(4, 9000);
    await a.artefacts.chunkStore.put([...live, ...dead]);
    const manifest = encodeManifest({ v: 1, size: live.reduce((n, c) => n + c.data.length, 0), mediaType: "a/b", chunks: live.map((c) => ({ hash: c.hash, length: c.data.length })) });
    const id = manifestId(manifest);
    expect((await a.artefacts.services.manifests.put(id, manifest)).outcome).toBe("created");
    await a.artefacts.onArtefactRefs("s", 0, 0, [id]);
    // Unindexed leftovers of a live node: one just past ORPHAN_MIN_AGE_MS, one younger.
    const oldOrphan = await leftoverPack(store, "gw-b", chunkUploads(2, 10_000), ORPHAN_MIN_AGE_MS + 60_000);
    const youngOrphan = await leftoverPack(store, "gw-b", chunkUploads(2, 11_000), ORPHAN_MIN_AGE_MS - 120_000);
    const before = await keys(store, "packs/");

    // Nobody holds the lock: neither gateway collects.
    expect(await codeOf(a.artefacts.services.gc.run())).toBe("NOT_LEADER");
    expect(await codeOf(b.artefacts.services.gc.run())).toBe("NOT_LEADER");
    await expect(b.artefacts.services.gc.run()).rejects.toThrow("no gateway holds it right now");

    // gw-a believes it holds the lock, but the database gave it to gw-b: the rewrite is fenced,
    // its replacement pack deleted, the index untouched.
    await grantGcLock(database.db, "gw-b");
    // A non-holder's refusal names the holder and where to send the request.
    await expect(a.artefacts.services.gc.run()).rejects.toThrow("node gw-b (http://gw-b) holds it now");
    a.gcLock = true;
    expect(await codeOf(a.artefacts.services.gc.run())).toBe("LEASE_LOST");
    expect(await keys(store, "packs/")).toEqual(before);
    expect(await a.artefacts.chunkStore.index.chunkCount()).toBe(8);

    // The holder collects: the dead chunks go, the live ones move to a pack under its own name.
    a.gcLock = false;
    b.gcLock = true;
    const summary = await b.artefacts.services.gc.run();
    expect(summary.chunks_deleted).toBe(4);
    expect(summary.packs_rewritten).toBe(1);
    const after = await keys(store, "packs/");
    expect(after).toContain(youngOrphan);
    expect(after).not.toContain(oldOrphan);
    const packs = await b.artefacts.chunkStore.index.listPacks();
    expect(packs).toHaveLength(1);
    expect(parsePackKey(packs[0]!.objectKey)?.node).toBe("gw-b");
    expect(after).toEqual([packs[0]!.objectKey, youngOrphan].sort());
    for (const c of live) expect(await a.artefacts.chunkStore.read(c.hex, (await a.artefacts.chunkStore.index.locateMany([c.hex])).get(c.hex)!)).toEqual(c.data);
    expect(await a.artefacts.chunkStore.missing(dead.map((c) => c.hex))).toEqual(dead.map((c) => c.hex));
  } finally {
    await a.artefacts.close();
    await b.artefacts.close();
  }
}, 120_000);

/** The bucket as one gateway sees it, with a hook run before each delete (to interleave another gateway's request). */
class DeleteHookStore implements ObjectStore {
  readonly description: string;
  beforeDelete: (key: string) => Promise<void> = () => Promise.resolve();
  readonly #inner: ObjectStore;
  constructor(inner: ObjectStore) {
    this.#inner = inner;
    this.description = inner.description;
  }
  put: ObjectStore["put"] = (key, body, opts) => this.#inner.put(key, body, opts);
  putMultipart: ObjectStore["putMultipart"] = (key, parts, opts) => this.#inner.putMultipart(key, parts, opts);
  get: ObjectStore["get"] = (key, range) => this.#inner.get(key, range);
  head: ObjectStore["head"] = (key) => this.#inner.head(key);
  list: ObjectStore["list"] = (prefix) => this.#inner.list(prefix);
  deleteMany: ObjectStore["deleteMany"] = (keys) => this.#inner.deleteMany(keys);
  close: ObjectStore["close"] = () => Promise.resolve();
  delete: ObjectStore["delete"] = async (key) => {
    await this.beforeDelete(key);
    await this.#inner.delete(key);
  };
}

test("a manifest PUT again on gateway 2 while GC on gateway 1 deletes it (no lock they share) stays whole: row, object and chunks", async () => {
  await clearMetadata();
  const shared = await objectStore();
  const hooked = new DeleteHookStore(shared);
  const a = await openEngine("gw-a", hooked, newDir());
  const b = await openEngine("gw-b", shared, newDir());
  try {
    const chunks = chunkUploads(4, 12_000);
    await a.artefacts.chunkStore.put(chunks);
    const bytes = encodeManifest({ v: 1, size: chunks.reduce((n, c) => n + c.data.length, 0), mediaType: "a/b", chunks: chunks.map((c) => ({ hash: c.hash, length: c.data.length })) });
    const id = manifestId(bytes);
    expect((await a.artefacts.services.manifests.put(id, bytes)).outcome).toBe("created");
    // Unreferenced and older than the (zero) grace period once the clock moves on: dead to GC.
    const uploaded = Date.now();
    while (Date.now() <= uploaded) await Bun.sleep(1);

    // The worst interleaving: gateway 2's whole PUT lands between GC's row delete and its object delete.
    let raced = false;
    hooked.beforeDelete = async (key) => {
      if (raced || !key.startsWith("manifests/")) return;
      raced = true;
      expect((await b.artefacts.services.manifests.put(id, bytes)).outcome).toBe("created");
    };
    await grantGcLock(database.db, "gw-a");
    a.gcLock = true;
    const summary = await a.artefacts.services.gc.run();
    expect(raced).toBe(true);
    expect(summary.manifests_deleted).toBe(1);
    expect(summary.chunks_deleted).toBe(0);

    // A third gateway with cold caches reads it whole.
    const c = await openEngine("gw-c", shared, newDir());
    try {
      expect((await c.artefacts.services.manifests.info(id)).chunks).toBe(4);
      const loaded = await c.artefacts.services.manifests.load(id);
      expect(loaded.hexes).toEqual(chunks.map((x) => x.hex));
      for (const x of chunks) expect(await c.artefacts.chunkStore.read(x.hex, (await c.artefacts.chunkStore.index.locateMany([x.hex])).get(x.hex)!)).toEqual(x.data);
    } finally {
      await c.artefacts.close();
    }
  } finally {
    await a.artefacts.close();
    await b.artefacts.close();
  }
}, 120_000);

test("GC drops refs of records that retention on another gateway removed (the shared partitions row), though this gateway does not lead the partition", async () => {
  await clearMetadata();
  const store = await objectStore();
  const a = await openEngine("gw-a", store, newDir());
  try {
    // Two artefacts referenced from partition 1 of stream "s" at offsets 3 and 20; this gateway
    // leads no partition of it, so its own view of the start is 0 (openEngine's startOffsetOf).
    const ids: string[] = [];
    for (const [seed, offset] of [[13_000, 3], [14_000, 20]] as const) {
      const chunks = chunkUploads(2, seed);
      await a.artefacts.chunkStore.put(chunks);
      const bytes = encodeManifest({ v: 1, size: chunks.reduce((n, c) => n + c.data.length, 0), mediaType: "a/b", chunks: chunks.map((c) => ({ hash: c.hash, length: c.data.length })) });
      const id = manifestId(bytes);
      await a.artefacts.services.manifests.put(id, bytes);
      await a.artefacts.onArtefactRefs("s", 1, offset, [id]);
      ids.push(id);
    }
    // The leader's retention raised the partition's start to 10 in the shared database.
    await database.db.run(sql`INSERT INTO streams (name, partitions, created_at) VALUES ('s', 2, 0)`);
    await database.db.run(sql`INSERT INTO partitions (stream, partition, start_offset) VALUES ('s', 0, 0), ('s', 1, 10)`);
    const uploaded = Date.now();
    while (Date.now() <= uploaded) await Bun.sleep(1);
    await grantGcLock(database.db, "gw-a");
    a.gcLock = true;
    const summary = await a.artefacts.services.gc.run();
    expect(summary.manifests_deleted).toBe(1);
    expect(summary.manifests_live).toBe(1);
    expect(await codeOf(a.artefacts.services.manifests.info(ids[0]!))).toBe("NOT_FOUND");
    expect((await a.artefacts.services.manifests.info(ids[1]!)).chunks).toBe(2);
  } finally {
    await a.artefacts.close();
  }
}, 120_000);
