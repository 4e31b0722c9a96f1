// The fan-out baseline: the artefact's file as one object in the same radosgw, read by N
// concurrent `curl --aws-sigv4` GETs (a C client, no Strata code), each writing a file.
import { spawn, spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import type { S3TestStore } from "../../test/helpers/ceph.ts";

export async function uploadFile(s3: S3TestStore, key: string, file: string): Promise<void> {
  const store = await S3ObjectStore.open({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    await store.putMultipart(key, createReadStream(file, { highWaterMark: 8 * 1024 * 1024 }) as AsyncIterable<Uint8Array>);
  } finally {
    await store.close();
  }
}

export function curlVersion(): string {
  return (spawnSync("curl", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "curl").split(" (")[0]!;
}

function curl(args: readonly string[], url: string, out: string): Promise<number> {
  const child = spawn("curl", ["-sS", "--fail", ...args, "-o", out, "-w", "%{size_download}", url], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(Number(stdout.trim())) : reject(new Error(`curl GET ${url} exited ${code}: ${stderr}`))));
  });
}

/** N concurrent plain GETs of `url` into outDir/get-i; returns the wall time and the bytes each got. */
export async function concurrentGets(url: string, n: number, outDir: string, args: readonly string[] = []): Promise<{ seconds: number; bytes: number[] }> {
  const started = performance.now();
  const bytes = await Promise.all(Array.from({ length: n }, (_, i) => curl(args, url, join(outDir, `get-${i}`))));
  return { seconds: (performance.now() - started) / 1000, bytes };
}

function signedArgs(s3: S3TestStore): string[] {
  return ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--aws-sigv4", `aws:amz:${s3.region}:s3`, "--user", `${s3.accessKeyId}:${s3.secretAccessKey}`];
}

/** N concurrent signed GETs of the object straight from the S3 store. */
export function directGets(s3: S3TestStore, key: string, n: number, outDir: string): Promise<{ seconds: number; bytes: number[] }> {
  return concurrentGets(`${s3.endpoint}/${s3.bucket}/${key}`, n, outDir, signedArgs(s3));
}

/** One curl GET into /dev/null: wall seconds and bytes received. */
export async function timedGet(url: string, args: readonly string[] = []): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const bytes = await curl(args, url, "/dev/null");
  return { seconds: (performance.now() - started) / 1000, bytes };
}

/** One signed curl GET of the object straight from the S3 store into /dev/null. */
export function timedDirectGet(s3: S3TestStore, key: string): Promise<{ seconds: number; bytes: number }> {
  return timedGet(`${s3.endpoint}/${s3.bucket}/${key}`, signedArgs(s3));
}
