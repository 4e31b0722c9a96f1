// The Python client's Client (python/strata/client.py) against a real gateway process: publish and
// read round trips with tensors (dtype, shape, values, writable), projection, batching, error codes.
import { afterAll, beforeAll, test } from "bun:test";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { python } from "../helpers/python.ts";
import { expectPythonTests } from "./run-unittest.ts";

let gateway: GatewayProcess;

beforeAll(async () => {
  python();
  gateway = await startGateway();
}, 300_000);

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("python: tests.test_client", () => {
  expectPythonTests("tests.test_client", { STRATA_URL: gateway.url });
}, 300_000);
