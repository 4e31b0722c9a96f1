// The Python client's training-coordination suites (python/tests) against one real gateway
// process: strata.checkpoint (every rank's save, all-or-none visibility, load into a file, keep N,
// conflicts, streamed uploads that store only changed chunks, a torch state dict round trip) and
// strata.params (the latest map of a compacted stream, tombstones, a watcher that sees each change
// a coordinator thread makes, in order). torch is installed through the helper when missing.
import { afterAll, beforeAll, test } from "bun:test";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { ensurePythonTorch, python } from "../helpers/python.ts";
import { expectPythonTests } from "./run-unittest.ts";

let gateway: GatewayProcess;

beforeAll(async () => {
  python();
  ensurePythonTorch();
  gateway = await startGateway();
}, 600_000);

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("python: tests.test_checkpoint", () => {
  expectPythonTests("tests.test_checkpoint", { STRATA_URL: gateway.url });
}, 300_000);

test("python: tests.test_params", () => {
  expectPythonTests("tests.test_params", { STRATA_URL: gateway.url });
}, 300_000);
