// How the `strata` binary behaves as a command-line tool, run as a real process: help at every
// level, --version, unknown commands and flags (exit 2, the closest valid one named), bad
// values, and the gateway URL (no scheme means http; an unreachable gateway is named).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, freePort } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway } from "../helpers/gateway.ts";

const run = (args: string[], stdin?: string) => cli(args, stdin).done;

describe("help and version", () => {
  test("--help works at every level, including command groups, and exits 0", async () => {
    const levels: [string[], string[]][] = [
      [["--help"], ["Usage: strata", "serve", "streams", "publish", "consume", "push", "pull", "hash", "chunks", "edge"]],
      [["streams", "--help"], ["Usage: strata streams", "create", "list", "get"]],
      [["streams", "create", "--help"], ["Usage: strata streams create", "--partitions", "--retention-ms"]],
      [["edge", "--help"], ["Usage: strata edge", "publish", "run", "status"]],
      [["edge", "run", "--help"], ["--pin", "--rate-limit", "--fingerprint"]],
      [["consume", "--help"], ["--from", "earliest | latest | OFFSET | ISO-TIME", "--follow", "--partition"]],
      [["publish", "--help"], ["--skip-bad", "--batch-bytes", "--no-create", "created on the first write"]],
      [["help", "pull"], ["Usage: strata pull", "standard output"]],
      [["hash", "-h"], ["--check", "--no-names"]],
    ];
    for (const [args, expected] of levels) {
      const r = await run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      for (const text of expected) expect(r.stdout).toContain(text);
    }
  });

  test("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  test("no command: the help, exit 2", async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: strata");
  });
});

describe("mistakes are errors (exit 2) that point at what would fit", () => {
  test("an unknown flag is refused before anything runs, with the closest valid flag", async () => {
    const typo = await run(["consume", "events", "--folow"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown option '--folow'");
    expect(typo.stderr).toContain("Did you mean --follow?");
    const bogus = await run(["consume", "events", "--bogus"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown option '--bogus'");
    expect(bogus.stdout).toBe("");
    const nested = await run(["edge", "run", "--data", "x", "--rate-limt", "1M"]);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toContain("Did you mean --rate-limit?");
  });

  test("an unknown command names the closest one", async () => {
    const r = await run(["streams", "lst"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'lst'");
    expect(r.stderr).toContain("Did you mean list?");
    expect((await run(["consum", "x"])).stderr).toContain("Did you mean consume?");
  });

  test("bad values, missing and extra arguments", async () => {
    const from = await run(["consume", "events", "--from", "yesterday"]);
    expect(from.code).toBe(2);
    expect(from.stderr).toContain("--from: must be earliest, latest, an offset or an ISO 8601 time");
    expect((await run(["consume", "events", "--partition", "-1"])).code).toBe(2);
    expect((await run(["streams", "create", "x", "--partitions", "0"])).code).toBe(2);
    expect((await run(["publish", "s", "--acks", "never"])).code).toBe(2);
    expect((await run(["consume"])).code).toBe(2);
    expect((await run(["streams", "get", "a", "b"])).code).toBe(2);
    expect((await run(["push", "file.bin"])).stderr).toContain("--stream");
  });
});

describe("the gateway URL", () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.stop();
    if (gateway) removeDir(gateway.dataDir);
  });

  test("without a scheme it means http (a trailing slash is fine)", async () => {
    const hostPort = gateway.url.replace(/^http:\/\//, "");
    const created = await run(["streams", "create", "url/plain", "--gateway", hostPort]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const listed = await run(["streams", "list", "--gateway", `${hostPort}/`]);
    expect(listed.stdout).toContain("url/plain\tpartitions=1");
  });

  test("a gateway that is down is named, with what to do, exit 1", async () => {
    const port = await freePort();
    for (const args of [
      ["consume", "events", "--gateway", `127.0.0.1:${port}`],
      ["publish", "events", "--json", "{}", "--gateway", `127.0.0.1:${port}`],
      ["streams", "list", "--gateway", `http://127.0.0.1:${port}`],
      ["pull", "events", "out.bin", "--gateway", `127.0.0.1:${port}`, "--cache", join(gateway.dataDir, "cache")],
    ]) {
      const r = await run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`cannot reach the gateway at http://127.0.0.1:${port} (connection refused)`);
      expect(r.stderr).toContain("strata serve");
      expect(r.stderr).toContain("--gateway");
    }
  }, 30_000);

  test("a URL that is not http(s) is a usage error", async () => {
    const r = await run(["streams", "list", "--gateway", "ftp://example.org"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--gateway: must be an http(s) URL");
  });
});
