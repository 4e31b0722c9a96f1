// The Python client against `strata serve --auth`: its token goes out as a bearer token on every
// request (Client and Dataset), and a client without one gets UNAUTHENTICATED (python/tests/test_auth.py).
import { afterAll, beforeAll, test } from "bun:test";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { python } from "../helpers/python.ts";
import { expectPythonTests } from "./run-unittest.ts";

const ADMIN_TOKEN = "python-client-test-admin-token-0123456789";
let gateway: GatewayProcess;

beforeAll(async () => {
  python();
  gateway = await startGateway({ args: ["--auth"], env: { STRATA_ADMIN_TOKEN: ADMIN_TOKEN } });
}, 300_000);

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("python: tests.test_auth", () => {
  expectPythonTests("tests.test_auth", { STRATA_URL: gateway.url, STRATA_TOKEN: ADMIN_TOKEN });
}, 300_000);
