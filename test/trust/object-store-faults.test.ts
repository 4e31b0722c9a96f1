// A gateway on real S3 (Ceph radosgw) whose store freezes: radosgw is stopped with SIGSTOP, so
// connections are accepted by the kernel and then nothing answers. With a small per-call timeout
// (s3.requestTimeoutMs), an acks=durable publish answers 503 within it instead of hanging, local
// publishes keep working, and once radosgw runs again (SIGCONT) durable publishes succeed at once
// rather than after the upload backoff (up to 30 s); every acknowledged record stays readable.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveGatewayConfig } from "../../gateway/config/gateway-config.ts";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

/** The per-call bound the gateway runs with here (the default is 10 s). */
const REQUEST_TIMEOUT_MS = 1_000;
/** Generous bounds for a loaded machine: far below the 120 s per attempt and 30 s backoff this replaces. */
const ANSWER_BOUND_MS = 6 * REQUEST_TIMEOUT_MS;
const RECOVERY_BOUND_MS = 2_000 + 3 * REQUEST_TIMEOUT_MS;

let s3: S3TestStore;
const dataDir = tempDir();
const stream = "faults/durable";
const path = `/v1/streams/${encodeURIComponent(stream)}/records`;

beforeAll(async () => {
  s3 = await startS3();
}, 180_000);
afterAll(async () => {
  removeDir(dataDir);
  await s3?.stop();
});

test("the S3 timeouts are checked: out of range fails start-up naming the key", async () => {
  const config = (s3: Record<string, unknown>) => ({ dataDir: join(dataDir, "never"), s3: { bucket: "b", ...s3 } });
  expect(() => resolveGatewayConfig(config({ requestTimeoutMs: 10 }))).toThrow(/s3\.requestTimeoutMs/);
  expect(() => resolveGatewayConfig(config({ maxAttempts: 0 }))).toThrow(/s3\.maxAttempts/);
  expect(() => resolveGatewayConfig(config({ connectTimeoutMs: 1.5 }))).toThrow(/s3\.connectTimeoutMs/);
  expect(resolveGatewayConfig(config({ requestTimeoutMs: 2_000, connectTimeoutMs: 500, maxAttempts: 2 })).s3).toMatchObject({ requestTimeoutMs: 2_000, connectTimeoutMs: 500, maxAttempts: 2 });
  await expect(S3ObjectStore.open({ bucket: "b", endpoint: "http://127.0.0.1:1", requestTimeoutMs: 5 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
});

/** The pid of the process listening on the store's port (radosgw), from `ss`. */
function listenerPid(endpoint: string): number {
  const port = new URL(endpoint).port;
  const out = spawnSync("ss", ["-Htlnp", `sport = :${port}`], { encoding: "utf8" }).stdout;
  const match = /pid=(\d+)/.exec(out);
  if (!match) throw new Error(`no process listens on port ${port}: ${out}`);
  return Number(match[1]);
}

async function publish(gateway: GatewayProcess, n: number, acks: "local" | "durable"): Promise<Response> {
  return fetch(`${gateway.url}${path}?acks=${acks}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ records: [{ fields: { n } }] }),
  });
}

test(
  "a frozen object store: durable publishes answer 503 within the request timeout, and succeed at once when it answers again",
  async () => {
    if (process.env.STRATA_TEST_S3_ENDPOINT) {
      console.warn("skipped: needs the throwaway radosgw (STRATA_TEST_S3_ENDPOINT points at an external store)");
      return;
    }
    const configFile = join(dataDir, "config.json");
    writeFileSync(configFile, JSON.stringify({
      s3: {
        endpoint: s3.endpoint, bucket: s3.bucket, prefix: `faults-${Date.now()}`, region: s3.region, forcePathStyle: true,
        requestTimeoutMs: REQUEST_TIMEOUT_MS, connectTimeoutMs: REQUEST_TIMEOUT_MS, maxAttempts: 2,
      },
    }));
    const gateway = await startGateway({
      dataDir: join(dataDir, "gw"),
      args: ["--config", configFile],
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    });
    const rgw = listenerPid(s3.endpoint);
    let frozen = false;
    const acked: number[] = [];
    try {
      expect((await fetch(`${gateway.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: stream }) })).status).toBe(201);
      expect((await publish(gateway, 0, "durable")).status).toBe(200);
      acked.push(0);

      process.kill(rgw, "SIGSTOP");
      frozen = true;
      for (let n = 1; n <= 3; n++) {
        const started = performance.now();
        const response = await publish(gateway, n, "durable");
        const elapsed = performance.now() - started;
        const body = await response.json() as { error?: { code?: string } };
        // The record is safe on local disk and readable; only its durability is refused.
        expect(response.status).toBe(503);
        expect(body.error?.code).toBe("STORAGE_ERROR");
        expect(elapsed).toBeLessThan(ANSWER_BOUND_MS);
        acked.push(n);
      }
      // acks=local does not depend on the store.
      expect((await publish(gateway, 4, "local")).status).toBe(200);
      acked.push(4);

      process.kill(rgw, "SIGCONT");
      frozen = false;
      const resumed = performance.now();
      let n = 5;
      for (;;) {
        const response = await publish(gateway, n, "durable");
        acked.push(n++); // answered 200 or 503: the record is in the WAL either way
        if (response.status === 200) break;
        expect(response.status).toBe(503);
        expect(performance.now() - resumed).toBeLessThan(RECOVERY_BOUND_MS);
        await Bun.sleep(50); // a client's retry interval, not a wait for a condition
      }
      expect(performance.now() - resumed).toBeLessThan(RECOVERY_BOUND_MS);

      const read = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=0&max_records=100`);
      expect(read.status).toBe(200);
      const records = (await read.json() as { records: Array<{ offset: number; fields: { n: number } }> }).records;
      expect(records.map((r) => r.fields.n)).toEqual(acked);
    } finally {
      if (frozen) process.kill(rgw, "SIGCONT");
      await gateway.stop();
    }
  },
  120_000,
);
