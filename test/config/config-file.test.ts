// Parts of the gateway's configuration: a part checked on its own (known keys, types, ranges,
// each problem named), and a file's part layered under the command line's key by key.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import { layerGatewayConfig, readGatewayConfigFile } from "../../gateway/config/config-file.ts";
import { parseGatewayConfigLayer, resolveGatewayConfig } from "../../gateway/config/gateway-config.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

function refusal(input: unknown): string {
  try {
    parseGatewayConfigLayer(input, "part");
  } catch (e) {
    if (e instanceof StrataError && e.code === "BAD_REQUEST") return e.message;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe("a configuration part", () => {
  test("every key is optional; what is given is checked as the whole configuration checks it", () => {
    expect(parseGatewayConfigLayer({}, "part")).toEqual({});
    expect(parseGatewayConfigLayer({ limits: { maxRecordBytes: 65_536 } }, "part")).toEqual({ limits: { maxRecordBytes: 65_536 } });
    expect(refusal({ limits: { maxRecordBytes: 10 } })).toBe("part: limits.maxRecordBytes = 10 is out of range: an integer number of bytes in [1 KiB, 512 MiB]");
    expect(refusal({ storage: { segmentMs: "10m" } })).toBe('part: storage.segmentMs = "10m" is out of range: an integer number of milliseconds in [1 ms, 7 d]');
    expect(refusal({ quic: { maxFrames: 1 } })).toBe("part: quic.maxFrames is not a known limit");
    expect(refusal({ dataDir: "d", limitz: {} })).toBe("part: limitz is not a configuration key");
    expect(refusal({ s3: { region: "r" } })).toContain("part: s3.bucket:");
    expect(refusal([])).toContain("part: Invalid input: expected object");
  });
});

describe("layers", () => {
  test("the upper layer wins key by key, inside s3 and the limit families too", () => {
    const file = {
      dataDir: "from-file",
      dbUrl: "file:meta.db",
      s3: { bucket: "file-bucket", region: "eu-west-1", forcePathStyle: false },
      limits: { maxRecordBytes: 65_536, maxStreams: 10 },
      quic: { maxConnections: 16 },
    };
    const flags = { dataDir: "from-flags", s3: { bucket: "flag-bucket" }, limits: { maxStreams: 20 }, corsOrigins: ["http://localhost:8080"] };
    expect(layerGatewayConfig(file, flags)).toEqual({
      dataDir: "from-flags",
      dbUrl: "file:meta.db",
      s3: { bucket: "flag-bucket", region: "eu-west-1", forcePathStyle: false },
      limits: { maxRecordBytes: 65_536, maxStreams: 20 },
      quic: { maxConnections: 16 },
      corsOrigins: ["http://localhost:8080"],
    });
    expect(layerGatewayConfig(file, {})).toEqual(file);
    expect(layerGatewayConfig({}, flags)).toEqual(flags);
  });

  test("layered parts go through the whole configuration's checks between keys", () => {
    const layered = layerGatewayConfig({ limits: { maxRecordBytes: 65_536 } }, { dataDir: "d", limits: { maxRequestBytes: 32_768 } });
    expect(() => resolveGatewayConfig({ dataDir: "d", ...layered })).toThrow("limits.maxRecordBytes (65536) must be at most limits.maxRequestBytes (32768)");
  });
});

describe("a configuration file", () => {
  test("read, parsed and checked; each failure names the file", async () => {
    const dir = tempDir("strata-config-file-");
    try {
      const path = (name: string, text: string): string => {
        const p = join(dir, name);
        writeFileSync(p, text);
        return p;
      };
      expect(await readGatewayConfigFile(path("ok.json", '{"storage": {"groupCommitMs": 5}}'))).toEqual({ storage: { groupCommitMs: 5 } });
      const bad = path("bad.json", '{"storage": {"groupCommitMs": -1}}');
      await expect(readGatewayConfigFile(bad)).rejects.toThrow(`config file ${bad}: storage.groupCommitMs = -1 is out of range`);
      const torn = path("torn.json", '{"storage": ');
      await expect(readGatewayConfigFile(torn)).rejects.toThrow(`config file ${torn}: not JSON: `);
      await expect(readGatewayConfigFile(join(dir, "absent.json"))).rejects.toThrow("absent.json: cannot read it: ");
    } finally {
      removeDir(dir);
    }
  });
});
