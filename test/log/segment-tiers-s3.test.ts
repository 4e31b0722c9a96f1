// Segment tiers on a real S3 endpoint: Ceph radosgw from test/helpers/ceph.ts (or the store
// named by STRATA_TEST_S3_ENDPOINT). Each test writes under its own key prefix.
import { afterAll, beforeAll } from "bun:test";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { segmentTierSuite } from "./segment-tiers.contract.ts";

let s3: S3TestStore | undefined;
const run = `log-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
let n = 0;
const opened: S3ObjectStore[] = [];

beforeAll(async () => {
  s3 = await startS3();
}, 600_000); // a fresh machine installs Ceph with apt first

afterAll(async () => {
  for (const store of opened) {
    const keys: string[] = [];
    for await (const o of store.list("")) keys.push(o.key);
    await store.deleteMany(keys).catch(() => {});
    await store.close();
  }
  await s3?.stop();
});

segmentTierSuite("ceph radosgw", async () => {
  if (!s3) throw new Error("S3 test store did not start");
  const store = await S3ObjectStore.open({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: `${run}/t${n++}`,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  opened.push(store);
  return store;
});
