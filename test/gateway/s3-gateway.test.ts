// A gateway on real S3 (Ceph radosgw): acks=durable means the object store holds the records when
// the answer comes, and after the local segment cache is dropped reads are served from S3.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

let s3: S3TestStore;
const dataDir = tempDir();
const prefix = `gw-${Date.now()}`;

beforeAll(async () => {
  s3 = await startS3();
}, 180_000);
afterAll(async () => {
  removeDir(dataDir);
  await s3?.stop();
});

function gatewayOn(dir: string): Promise<GatewayProcess> {
  return startGateway({
    dataDir: dir,
    args: ["--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-prefix", prefix, "--s3-region", s3.region],
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

test(
  "durable acks reach S3, and reads come back from S3 once the local cache is gone",
  async () => {
    let gateway = await gatewayOn(dataDir);
    const stream = "s3/durable";
    const v1 = `${gateway.url}/v1`;
    try {
      expect(gateway.output()).toContain(`s3://${s3.bucket}/${prefix}/`);
      expect((await fetch(`${v1}/streams`, { method: "POST", body: JSON.stringify({ name: stream }) })).status).toBe(201);
      for (let batch = 0; batch < 5; batch++) {
        const records = Array.from({ length: 20 }, (_, i) => ({ fields: { n: batch * 20 + i, blob: { $base64: btoa("y".repeat(300)) } } }));
        const response = await fetch(`${v1}/streams/s3%2Fdurable/records?acks=durable`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records }) });
        expect(response.status).toBe(200);
      }
      // The answer came after the upload: the segments are in the bucket now.
      const store = await S3ObjectStore.open({ endpoint: s3.endpoint, bucket: s3.bucket, prefix, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
      const objects: string[] = [];
      for await (const o of store.list("streams/s3/durable/0/")) objects.push(o.key);
      await store.close();
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.every((k) => /^streams\/s3\/durable\/0\/\d{20}\.seg$/.test(k))).toBe(true);
    } finally {
      await gateway.stop();
    }

    // Drop every local copy of sealed segments; keep the WAL and the metadata file.
    const logDir = join(dataDir, "log");
    const dropped = filesUnder(logDir).filter((f) => !f.endsWith(".wal"));
    expect(dropped.length).toBeGreaterThan(0);
    for (const f of dropped) rmSync(f);

    gateway = await gatewayOn(dataDir);
    try {
      const read = await fetch(`${gateway.url}/v1/streams/s3%2Fdurable/partitions/0/records?offset=0&max_records=1000`);
      const page = (await read.json()) as { records: { offset: number; fields: { n: number } }[] };
      expect(page.records.map((r) => r.fields.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      const gets = /strata_object_store_operations_total\{op="get"\} (\d+)/.exec(metrics);
      expect(Number(gets?.[1] ?? 0)).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
    }
  },
  180_000,
);
