// The artefact gateway on real S3 (Ceph radosgw): upload, dedup, Range reads from packs in the
// bucket after a restart (cold caches), one read per pack block for concurrent cold GETs, and GC
// shrinking the pack bytes in the bucket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import type { GcSummary } from "../../gateway/artefacts/artefact-gc.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { chunkFile, metricValue, missing, randomBytes, upload } from "./gateway-fixture.ts";

let s3: S3TestStore;
const dataDir = tempDir();
const prefix = `artefacts-${Date.now()}`;
const LIMITS = { maxChunkBytes: 64 * 1024, maxChunkRequestBytes: 1024 * 1024, packIdleMs: 10, packMaxBytes: 512 * 1024, packMultipartMinBytes: 200 * 1024, readBlockBytes: 128 * 1024, gcGraceMs: 0, gcRewriteMinDeadFraction: 0 };

beforeAll(async () => {
  s3 = await startS3();
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
}, 300_000);
afterAll(async () => {
  removeDir(dataDir);
  await s3?.stop();
});

function open(): Promise<LiveGateway> {
  return liveGateway({ dataDir, s3: { endpoint: s3.endpoint, bucket: s3.bucket, prefix, region: s3.region }, artefacts: LIMITS });
}

async function packBytes(gw: LiveGateway): Promise<number> {
  let total = 0;
  for await (const o of gw.gateway.objectStore.list("packs/")) total += o.size;
  return total;
}

test(
  "push, cold concurrent reads from the bucket, ranges, and GC on radosgw",
  async () => {
    const a = chunkFile(randomBytes(1_500_000, 91), "application/x-a");
    const b = chunkFile(randomBytes(700_000, 92));
    let gw = await open();
    try {
      expect(gw.gateway.objectStore.description).toContain("s3://");
      await upload(gw.url, a);
      await upload(gw.url, b);
      expect((await upload(gw.url, a)).uploaded).toBe(0);
      expect((await fetch(`${gw.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: "s3/models" }) })).status).toBe(201);
      const ref = { $artefact: { manifest: a.id, size: a.bytes.length, mediaType: "application/x-a" } };
      const pub = await fetch(`${gw.url}/v1/streams/s3%2Fmodels/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { model: ref } }] }) });
      expect(pub.status).toBe(200);
      // Packs over packMultipartMinBytes went up as multipart uploads.
      const written = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metricValue(written, "strata_object_store_written_bytes_total", '{op="put_multipart"}')).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }

    // Restart: every read below comes from the bucket.
    gw = await open();
    try {
      const bucketPacks = await packBytes(gw);
      const text0 = await (await fetch(`${gw.url}/metrics`)).text();
      const bodies = await Promise.all(Array.from({ length: 8 }, () => fetch(`${gw.url}/v1/artefacts/${a.id}`).then((r) => r.arrayBuffer())));
      for (const body of bodies) expect(Buffer.compare(new Uint8Array(body), a.bytes)).toBe(0);
      const text1 = await (await fetch(`${gw.url}/metrics`)).text();
      const read = metricValue(text1, "strata_object_store_read_bytes_total", '{op="get"}') - metricValue(text0, "strata_object_store_read_bytes_total", '{op="get"}');
      // A's packs (and at most the pack it shares with B) once, plus the manifest: never 8×.
      expect(read).toBeGreaterThanOrEqual(a.bytes.length);
      expect(read).toBeLessThan(a.bytes.length + 512 * 1024 + a.manifestBytes.length + 64 * 1024);
      expect(read).toBeLessThanOrEqual(bucketPacks + a.manifestBytes.length);

      for (const [start, end] of [[0, 0], [65_535, 200_000], [1_000_000, 1_499_999], [123, 124]] as const) {
        const res = await fetch(`${gw.url}/v1/artefacts/${a.id}`, { headers: { range: `bytes=${start}-${end}` } });
        expect(res.status).toBe(206);
        expect(Buffer.compare(new Uint8Array(await res.arrayBuffer()), a.bytes.subarray(start, end + 1))).toBe(0);
      }

      const summary = (await (await fetch(`${gw.url}/v1/admin/gc`, { method: "POST" })).json()) as GcSummary;
      expect(summary.manifests_deleted).toBe(1);
      expect(summary.chunks_deleted).toBe(new Set(b.chunks.map((c) => bytesToHex(c.hash))).size);
      const after = await packBytes(gw);
      expect(after).toBeLessThan(bucketPacks);
      expect(summary.bytes_after).toBe(after);
      expect(await missing(gw.url, a.chunks.map((c) => bytesToHex(c.hash)))).toEqual([]);
      const again = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${a.id}`)).arrayBuffer());
      expect(Buffer.compare(again, a.bytes)).toBe(0);
    } finally {
      await gw.close();
    }
  },
  120_000,
);
