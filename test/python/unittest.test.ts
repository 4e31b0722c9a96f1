// The Python client's unittest suite (python/tests) against one real gateway process: Client
// (publish and read round trips with tensors, projection, filters, batching, error codes); Dataset
// (the order of every rank and worker per python/strata/order.py, itself checked against
// core/datasets; every sample once per epoch; exact resume, also on another world size;
// projection, filters, errors); strata.torch (a DataLoader with workers over tensor fields,
// StatefulLoader's exact resume), with torch installed through the helper when missing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { ensurePythonTorch, python } from "../helpers/python.ts";
import { expectPythonTests } from "./run-unittest.ts";

let gateway: GatewayProcess;
let torch = false;

beforeAll(async () => {
  python();
  torch = ensurePythonTorch();
  gateway = await startGateway();
}, 600_000);

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("python: tests.test_client", () => {
  expectPythonTests("tests.test_client", { STRATA_URL: gateway.url });
}, 300_000);

test("python: tests.test_dataset", () => {
  expectPythonTests("tests.test_dataset", { STRATA_URL: gateway.url });
}, 300_000);

test("python: tests.test_distributed (rank and world size defaults)", () => {
  expectPythonTests("tests.test_distributed", { STRATA_URL: gateway.url });
}, 300_000);

test("python: tests.test_torch (DataLoader with workers)", () => {
  expect(torch).toBe(true);
  expectPythonTests("tests.test_torch", { STRATA_URL: gateway.url });
}, 300_000);
