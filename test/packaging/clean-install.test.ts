// `npm install` on a fresh clone leaves `git status` clean: the committed package-lock.json is
// what npm itself would write (every platform's optional binaries included), so installing
// never rewrites it. Clones the committed HEAD (uncommitted edits are not part of a clone) and
// installs from npm's cache where it can. Lifecycle scripts are skipped: they fetch binaries
// into node_modules and do not bear on the lockfile.
import { afterAll, expect, test } from "bun:test";
import { removeDir, ROOT, tempDir } from "../helpers/gateway.ts";
import { runCommand } from "./run-command.ts";

const work = tempDir("strata-clean-install-");
afterAll(() => removeDir(work));

test("npm install on a fresh clone leaves git status clean", async () => {
  await runCommand(["git", "clone", "--quiet", ROOT, work], ROOT);
  await runCommand(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], work);
  const { stdout } = await runCommand(["git", "status", "--porcelain"], work);
  expect(stdout).toBe("");
}, 300_000);
