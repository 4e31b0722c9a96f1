// `strata push` / `strata versions` / `strata pull STREAM@REF` as real processes against a real
// gateway process: identical content publishes nothing without --force, versions list newest
// first, and a pull picks a version by offset, by id prefix or latest, restoring the file name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileHash, writePlainFile } from "../artefacts/client-fixtures.ts";
import { cli } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

let gateway: GatewayProcess;
let dir: string;
let v1: string;
let v2: string;

beforeAll(async () => {
  gateway = await startGateway();
  dir = tempDir("strata-versions-cli-");
  v1 = join(dir, "v1.bin");
  v2 = join(dir, "v2.bin");
  writePlainFile(v1, 300_000, 1);
  writePlainFile(v2, 200_000, 2);
});

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (dir) removeDir(dir);
});

const run = (args: string[]) => cli([...args, "--gateway", gateway.url]).done;

interface PushJson {
  readonly artefact: string;
  readonly published: boolean;
  readonly partition: number;
  readonly offset: number;
}

async function push(file: string, ...more: string[]): Promise<PushJson> {
  const r = await run(["push", file, "--stream", "models/tagger", "--json", ...more]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as PushJson;
}

describe("versions through the CLI", () => {
  let first: PushJson;
  let second: PushJson;

  test("pushing the latest version's content again publishes nothing unless --force", async () => {
    first = await push(v1);
    expect(first).toMatchObject({ published: true, offset: 0 });
    expect(await push(v1)).toMatchObject({ artefact: first.artefact, published: false, offset: 0 });
    expect(await push(v1, "--force")).toMatchObject({ artefact: first.artefact, published: true, offset: 1 });
    second = await push(v2);
    expect(second).toMatchObject({ published: true, offset: 2 });
    const text = await run(["push", v2, "--stream", "models/tagger"]);
    expect(text.stdout).toContain(`models/tagger's latest version already is ${second.artefact} (partition 0 offset 2): nothing published`);
  }, 60_000);

  test("strata versions lists them newest first, as lines or JSON", async () => {
    const lines = (await run(["versions", "models/tagger"])).stdout.trim().split("\n");
    expect(lines.map((l) => l.split("\t")[0])).toEqual(["0:2", "0:1", "0:0"]);
    expect(lines[0]!.split("\t")[1]).toBe(second.artefact.slice(0, 12));
    expect(lines[0]).toContain("\tv2.bin\t");
    const json = (await run(["versions", "models/tagger", "--json", "--limit", "2"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as { offset: number; artefact: string; file_name: string; size: number });
    expect(json.map((v) => [v.offset, v.artefact, v.file_name, v.size])).toEqual([
      [2, second.artefact, "v2.bin", 200_000],
      [1, first.artefact, "v1.bin", 300_000],
    ]);
    const missing = await run(["versions", "models/none"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("models/none");
  }, 60_000);

  test("pull STREAM@OFFSET, @IDPREFIX and @latest write the picked version under its pushed name", async () => {
    const byOffset = join(dir, "by-offset");
    expect((await run(["pull", "models/tagger@0", `${byOffset}/`, "--cache", join(dir, "cache")])).code).toBe(0);
    expect(readdirSync(byOffset)).toEqual(["v1.bin"]);
    expect(fileHash(join(byOffset, "v1.bin"))).toBe(fileHash(v1));
    const byPrefix = join(dir, "by-prefix.bin");
    expect((await run(["pull", `models/tagger@${first.artefact.slice(0, 8)}`, byPrefix, "--cache", join(dir, "cache")])).code).toBe(0);
    expect(fileHash(byPrefix)).toBe(fileHash(v1));
    const latest = join(dir, "latest.bin");
    expect((await run(["pull", "models/tagger@latest", latest, "--cache", join(dir, "cache")])).code).toBe(0);
    expect(fileHash(latest)).toBe(fileHash(v2));
    const short = await run(["pull", "models/tagger@abc", join(dir, "x.bin"), "--cache", join(dir, "cache")]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("at least 8 hex digits");
    const none = await run(["pull", "models/tagger@9", join(dir, "x.bin"), "--cache", join(dir, "cache")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no artefact version '9'");
  }, 60_000);
});
