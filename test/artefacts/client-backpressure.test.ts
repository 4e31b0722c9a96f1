// Pushes against a gateway at its in-flight byte bound: concurrent pushes whose chunk batches do
// not all fit are refused with 503 and Retry-After (gateway/http/in-flight.ts), and the push
// waits as asked (edge/artefacts/gateway-http.ts) instead of failing after its attempts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { fileHash, path, writePlainFile } from "./client-fixtures.ts";

const MiB = 1024 * 1024;
let live: LiveGateway;
let dir: string;

beforeAll(async () => {
  // Room for about two 1 MiB chunk batches at once; four pushes of four batches in flight each.
  live = await liveGateway({ limits: { maxRecordBytes: 1 * MiB, maxRequestBytes: 2 * MiB, maxRequestBytesInFlight: 2 * MiB + 512 * 1024 } });
  dir = tempDir("strata-backpressure-");
});

afterAll(async () => {
  await live?.close();
  if (dir) removeDir(dir);
});

test("concurrent pushes past the gateway's in-flight bound all complete, byte-identical", async () => {
  const files = [0, 1, 2, 3].map((k) => {
    const file = path(dir, `shard-${k}.bin`);
    writePlainFile(file, 6 * MiB + k * 1000, 100 + k);
    return file;
  });
  const pushed = await Promise.all(
    files.map((file, k) => pushArtefact({ gateway: live.url, file, stream: `bp/rank-${k}`, concurrency: 4, limits: { batchBytes: 1 * MiB, attempts: 2 } })),
  );
  for (const [k, file] of files.entries()) {
    const out = path(dir, `out-${k}.bin`);
    await pullArtefact({ gateway: live.url, source: pushed[k]!.artefact, out, cacheDir: path(dir, `cache-${k}`) });
    expect(fileHash(out)).toBe(fileHash(file));
  }
}, 120_000);
