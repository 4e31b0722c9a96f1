// The ObjectStore contract on a real S3 endpoint: Ceph radosgw started by test/helpers/ceph.ts,
// or the store named by STRATA_TEST_S3_ENDPOINT. Plus what only S3 can get wrong.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { bytes, expectCode, listKeys, objectStoreContract } from "./object-store.contract.ts";

let s3: S3TestStore;
const run = `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
let n = 0;

const options = (extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions => ({
  endpoint: s3.endpoint,
  region: s3.region,
  bucket: s3.bucket,
  forcePathStyle: true,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  ...extra,
});
const open = () => S3ObjectStore.open(options({ prefix: `${run}/t${n++}` }));

beforeAll(async () => {
  s3 = await startS3();
}, 600_000); // a fresh machine installs Ceph with apt first

// Remove what this run wrote (it matters on a shared STRATA_TEST_S3_ENDPOINT store). Raw SDK
// calls: full keys under the run prefix can be longer than a store key may be.
afterAll(async () => {
  if (!s3) return;
  const sdk = sdkClient();
  let token: string | undefined;
  do {
    const page = await sdk
      .send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${run}/`, ContinuationToken: token }))
      .catch((e: unknown) => {
        if (e instanceof Error && e.name === "NoSuchBucket") return { Contents: [], IsTruncated: false, NextContinuationToken: undefined };
        throw e;
      });
    const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (objects.length > 0) await sdk.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: objects, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const Bucket of [extraBucket, regionBucket]) await sdk.send(new DeleteBucketCommand({ Bucket })).catch(() => {});
  sdk.destroy();
  await s3.stop();
});

const extraBucket = `strata-test-${run}`.slice(0, 63);
const regionBucket = `strata-region-${run}`.slice(0, 63);

function sdkClient(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

objectStoreContract("S3 (radosgw unless STRATA_TEST_S3_ENDPOINT)", open);

describe("S3ObjectStore", () => {
  test("a prefix is a namespace: stores under different prefixes do not see each other", async () => {
    const a = await S3ObjectStore.open(options({ prefix: `${run}/ns/a` }));
    const ab = await S3ObjectStore.open(options({ prefix: `${run}/ns/ab/` }));
    await a.put("k", bytes(3, 1));
    await ab.put("k", bytes(4, 2));
    expect(await listKeys(a, "")).toEqual(["k"]);
    expect((await a.head("k"))?.size).toBe(3);
    expect((await ab.head("k"))?.size).toBe(4);
    expect(a.description).toBe(`s3://${s3.bucket}/${run}/ns/a/ at ${s3.endpoint}`);
    await a.close();
    await ab.close();
  });

  test("a failed multipart upload is aborted on the server", async () => {
    const s = await open();
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield bytes(12 * 1024 * 1024, 3);
      throw new Error("source broke");
    }
    await expect(s.putMultipart("aborted", failing(), { partSize: 5 * 1024 * 1024 })).rejects.toThrow("source broke");
    const sdk = sdkClient();
    const res = await sdk.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${s.prefix}aborted` }));
    expect(res.Uploads ?? []).toEqual([]);
    sdk.destroy();
    await s.close();
  });

  test("creates a missing bucket by default, refuses to when told not to", async () => {
    const bucket = extraBucket;
    await expectCode(S3ObjectStore.open(options({ bucket, createBucket: false })), "STORAGE_ERROR");
    const s = await S3ObjectStore.open(options({ bucket }));
    await s.put("x", bytes(1, 1));
    expect(await listKeys(s, "")).toEqual(["x"]);
    await s.delete("x");
    await s.close();
    // Opening again finds the bucket in place.
    await (await S3ObjectStore.open(options({ bucket }))).close();
  });

  test("a bucket can be created from a client configured for another region", async () => {
    const s = await S3ObjectStore.open(options({ bucket: regionBucket, region: "eu-west-1" }));
    await s.put("r", bytes(2, 2));
    expect((await s.head("r"))?.size).toBe(2);
    await s.delete("r");
    await s.close();
  });

  test("an unreachable endpoint is a STORAGE_ERROR that keeps its cause", async () => {
    let error: unknown;
    try {
      await S3ObjectStore.open(options({ endpoint: "http://127.0.0.1:1", maxAttempts: 1, connectTimeoutMs: 1000 }));
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe("STORAGE_ERROR");
    expect((error as Error).cause).toBeDefined();
  });

  test("a closed store refuses work", async () => {
    const s = await open();
    await s.close();
    await expectCode(s.head("x"), "UNAVAILABLE");
  });
});
