// `strata serve` (the real binary) with a configuration openGateway refuses: exit 1, the message
// names the key, and nothing is created.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { removeDir, ROOT, tempDir } from "../helpers/gateway.ts";

test("strata serve with an S3 endpoint that is not a URL exits 1 naming s3.endpoint", () => {
  const parent = tempDir("strata-serve-config-");
  const dataDir = join(parent, "data");
  try {
    const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", dataDir, "--port", "0", "--s3-bucket", "b", "--s3-endpoint", "not-a-url"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("gateway config: s3.endpoint");
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    removeDir(parent);
  }
});
