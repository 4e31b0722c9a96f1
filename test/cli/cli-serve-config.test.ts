// `strata serve --config FILE` as a real process: a file that lowers limits.maxRecordBytes makes
// the gateway refuse a larger record with RECORD_TOO_LARGE while a smaller one publishes; flags
// win over the file; a file with an unknown key, a value out of range, a failed check between
// limits, or no JSON at all stops start-up with exit 1 naming the problem, creating nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const KiB = 1024;
const RECORD_LIMIT = 64 * KiB;

let parent: string;
beforeAll(() => {
  parent = tempDir("strata-serve-config-");
});
afterAll(() => {
  removeDir(parent);
});

function configFile(name: string, text: string): string {
  const path = join(parent, name);
  writeFileSync(path, text);
  return path;
}

describe("a gateway started with --config", () => {
  let gateway: GatewayProcess;
  let fileDataDir: string;
  beforeAll(async () => {
    fileDataDir = join(parent, "data-from-file");
    const file = configFile("lower.json", JSON.stringify({ dataDir: fileDataDir, limits: { maxRecordBytes: RECORD_LIMIT }, artefacts: { gcIntervalMs: 0 }, quic: { maxConnections: 16 } }));
    gateway = await startGateway({ dataDir: join(parent, "data-from-flag"), args: ["--config", file] });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const strata = (args: string[], stdin?: string) => cli([...args, "--gateway", gateway.url], stdin).done;

  test("a record over the file's maxRecordBytes is refused with RECORD_TOO_LARGE; a smaller one publishes", async () => {
    const large = await strata(["publish", "cfg/records"], JSON.stringify({ pad: "x".repeat(RECORD_LIMIT + KiB) }));
    expect(large.code).toBe(1);
    expect(large.stderr).toContain("RECORD_TOO_LARGE");
    const small = await strata(["publish", "cfg/records"], JSON.stringify({ pad: "x".repeat(RECORD_LIMIT - 4 * KiB) }));
    expect(small.stderr).toBe("");
    expect(small.code).toBe(0);
    expect(JSON.parse(small.stdout)).toEqual({ partition: 0, offset: 0 });
  }, 60_000);

  test("--data on the command line wins over the file's dataDir", () => {
    expect(gateway.output()).toContain(`data ${gateway.dataDir};`);
    expect(existsSync(fileDataDir)).toBe(false);
  });
});

describe("a bad configuration file stops start-up: exit 1, the problem named, nothing created", () => {
  const cases: readonly { readonly what: string; readonly text: string; readonly says: readonly string[] }[] = [
    { what: "an unknown limit", text: '{"limits": {"maxRecordByte": 65536}}', says: ["limits.maxRecordByte is not a known limit"] },
    { what: "an unknown key", text: '{"limit": {"maxRecordBytes": 65536}}', says: ["limit is not a configuration key"] },
    {
      what: "a value out of range",
      text: '{"limits": {"maxRecordBytes": 10}}',
      says: ["limits.maxRecordBytes = 10 is out of range: an integer number of bytes in [1 KiB, 512 MiB]"],
    },
    {
      what: "a value no batch can hold",
      text: `{"limits": {"maxRecordBytes": ${32 * 1024 * KiB}, "maxRequestBytes": ${64 * 1024 * KiB}}}`,
      says: ["gateway config: limits.maxRecordBytes (33554432)", "storage.maxBatchBytes (16777216): a record must fit a batch"],
    },
    { what: "not JSON", text: '{"limits": {"maxRecordBytes": 65536}', says: ["not JSON"] },
    { what: "not an object", text: "[]", says: ["expected object"] },
  ];

  for (const { what, text, says } of cases) {
    test(what, async () => {
      const file = configFile(`bad-${what.replaceAll(" ", "-")}.json`, text);
      const dataDir = join(parent, `never-${what.replaceAll(" ", "-")}`);
      const r = await cli(["serve", "--data", dataDir, "--port", "0", "--config", file]).done;
      expect(r.code).toBe(1);
      if (!what.startsWith("a value no batch")) expect(r.stderr).toContain(`config file ${file}: `);
      for (const phrase of says) expect(r.stderr).toContain(phrase);
      expect(r.stdout).not.toContain("listening on");
      expect(existsSync(dataDir)).toBe(false);
    }, 60_000);
  }

  test("a file that cannot be read", async () => {
    const missing = join(parent, "missing.json");
    const r = await cli(["serve", "--data", join(parent, "never-missing"), "--port", "0", "--config", missing]).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`config file ${missing}: cannot read it`);
  }, 60_000);
});
