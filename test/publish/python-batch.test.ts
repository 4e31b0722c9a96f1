// The Python client's client-built batches (python/tests/test_publish_batch.py) against one real gateway process.
import { afterAll, beforeAll, test } from "bun:test";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { python } from "../helpers/python.ts";
import { expectPythonTests } from "../python/run-unittest.ts";

let gateway: GatewayProcess;

beforeAll(async () => {
  python();
  gateway = await startGateway();
}, 120_000);

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("python: tests.test_publish_batch", () => {
  expectPythonTests("tests.test_publish_batch", { STRATA_URL: gateway.url });
}, 240_000);
