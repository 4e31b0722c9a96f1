// `strata serve --ucx-port`: a listener that cannot start (its port taken by another gateway's
// UCX listener) fails start-up with the reason and exit 1, instead of serving HTTP without it.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { removeDir, ROOT, tempDir } from "../helpers/gateway.ts";
import { ucxForTests } from "../helpers/ucx.ts";
import { startUcxGateway, type UcxGateway } from "./ucx-fixtures.ts";

setDefaultTimeout(60_000);

const ready = ucxForTests().available;
const dir = tempDir("strata-ucx-serve-");
let first: UcxGateway | undefined;

afterAll(async () => {
  await first?.gw.kill();
  removeDir(dir);
});

describe.skipIf(!ready)("strata serve --ucx-port", () => {
  test("a UCX port already in use: start-up fails with the reason, exit 1", async () => {
    first = await startUcxGateway({ dataDir: join(dir, "a") });
    const port = new URL(first.ucxUrl.replace(/^ucx:/, "http:")).port;
    const second = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", join(dir, "b"), "--port", "0", "--ucx-port", port], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`UCX listen on 127.0.0.1:${port}`);
  });
});
