import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  CORE_BUILTIN_ALLOWANCES,
  GOVERNED_FOLDERS,
  RULE_NAMES,
  STALE_ALLOWANCE_RULE,
  UNGOVERNED_FOLDERS,
  checkDependencyRules,
  type Violation,
} from "./dependency-rules.ts";
import { parseImports, readSourceImports, type SourceFileImports } from "./source-imports.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const packageJson = z.object({ name: z.string() }).parse(JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")));

// Synthetic trees are parsed from text under a root that does not exist: nothing is read from disk.
const SYNTHETIC_ROOT = "/synthetic-tree";
function tree(files: Record<string, string>): SourceFileImports[] {
  return Object.entries(files).map(([path, text]) => parseImports(SYNTHETIC_ROOT, path, text));
}
function check(files: Record<string, string>): Violation[] {
  return checkDependencyRules(tree(files), "strata").filter((v) => v.rule !== STALE_ALLOWANCE_RULE);
}
const report = (violations: readonly Violation[]): string => violations.map((v) => v.message).join("\n");

describe("the repository", () => {
  const files = readSourceImports(ROOT, GOVERNED_FOLDERS, UNGOVERNED_FOLDERS);

  test("is scanned: every governed folder has parsed files with imports", () => {
    for (const folder of GOVERNED_FOLDERS) expect(files.some((file) => file.path.startsWith(`${folder}/`))).toBe(true);
    expect(files.find((file) => file.path === "gateway/gateway.ts")?.imports.length ?? 0).toBeGreaterThan(0);
    expect(files.some((file) => file.path.startsWith("wasm/assembly/"))).toBe(false);
  });

  const violations = checkDependencyRules(files, packageJson.name);
  for (const rule of RULE_NAMES) {
    test(`follows the rule: ${rule}`, () => {
      expect(report(violations.filter((v) => v.rule === rule))).toBe("");
    });
  }

  test("has no violation outside the named rules", () => {
    expect(report(violations.filter((v) => !RULE_NAMES.includes(v.rule)))).toBe("");
  });
});

describe("the import parser", () => {
  test("sees static, type-only, re-exported, dynamic, import-type and require imports", () => {
    const [file] = tree({
      "edge/x.ts": [
        'import { a } from "./a.ts";',
        'import type { B } from "../core/b.ts";',
        'export { c } from "./c.ts";',
        'export type { D } from "./d.ts";',
        "type E = import(\"./e.ts\").E;",
        'const mod = await import("node:fs");',
        'const name = "node:quic"; await import(name);',
        'const req = require("./f.cjs");',
        "await import(computeName());",
      ].join("\n"),
    });
    expect(file?.imports.map((i) => [i.specifier, i.form, i.typeOnly, i.line])).toEqual([
      ["./a.ts", "import", false, 1],
      ["../core/b.ts", "import", true, 2],
      ["./c.ts", "export-from", false, 3],
      ["./d.ts", "export-from", true, 4],
      ["./e.ts", "import-type", true, 5],
      ["node:fs", "dynamic-import", false, 6],
      ["node:quic", "dynamic-import", false, 7],
      ["./f.cjs", "require", false, 8],
    ]);
    expect(file?.imports[1]?.target).toEqual({ kind: "file", path: "core/b.ts" });
    expect(file?.imports[5]?.target).toEqual({ kind: "builtin", module: "node:fs" });
    expect(file?.opaque.map((o) => [o.line, o.expression])).toEqual([[9, "import(computeName())"]]);
  });

  test("classifies bare Node built-ins and scoped packages", () => {
    const [file] = tree({ "core/x.ts": 'import "fs";\nimport "@scope/pkg/sub";\nimport "hono/client";' });
    expect(file?.imports.map((i) => i.target)).toEqual([
      { kind: "builtin", module: "fs" },
      { kind: "package", name: "@scope/pkg" },
      { kind: "package", name: "hono" },
    ]);
  });
});

describe("the rule checker fails on", () => {
  const cases: readonly { what: string; files: Record<string, string>; rule: string; names: string }[] = [
    {
      what: "core importing the gateway",
      files: { "core/log/batch.ts": 'import { x } from "../../gateway/log/wal.ts";' },
      rule: "core imports only core and wasm",
      names: 'core/log/batch.ts:1 import "../../gateway/log/wal.ts" (gateway/log/wal.ts)',
    },
    {
      what: "core importing a node: module it is not allowed",
      files: { "core/hashing/blake3.ts": 'import { readFileSync } from "node:fs";' },
      rule: "core imports only core and wasm",
      names: 'core/hashing/blake3.ts:1 import "node:fs"',
    },
    {
      what: "core importing a bare Node built-in name",
      files: { "core/util/hex.ts": 'import { Buffer } from "buffer";' },
      rule: "core imports only core and wasm",
      names: 'core/util/hex.ts:1 import "buffer"',
    },
    {
      what: "an allowed core file importing another built-in than its allowance",
      files: { "core/tensors/byte-codecs.ts": 'import "node:zlib";\nimport "node:fs";' },
      rule: "core imports only core and wasm",
      names: 'core/tensors/byte-codecs.ts:2 import "node:fs"',
    },
    {
      what: "the wasm loader importing core",
      files: { "wasm/module.generated.ts": 'import { x } from "../core/errors.ts";' },
      rule: "wasm imports only wasm",
      names: 'wasm/module.generated.ts:1 import "../core/errors.ts" (core/errors.ts)',
    },
    {
      what: "runtime importing the edge",
      files: { "runtime/quic/connect.ts": 'import type { T } from "../../edge/transports/transport.ts";' },
      rule: "runtime imports only core",
      names: 'runtime/quic/connect.ts:1 type-only import "../../edge/transports/transport.ts"',
    },
    {
      what: "the gateway importing the edge",
      files: { "gateway/quic/server.ts": 'export { x } from "../../edge/records.ts";' },
      rule: "gateway and edge never import each other",
      names: 'gateway/quic/server.ts:1 export-from "../../edge/records.ts"',
    },
    {
      what: "the edge importing the gateway, dynamically",
      files: { "edge/sync/sync-loop.ts": 'const m = await import("../../gateway/http/app.ts");' },
      rule: "gateway and edge never import each other",
      names: 'edge/sync/sync-loop.ts:1 dynamic-import "../../gateway/http/app.ts"',
    },
    {
      what: "the log importing a service",
      files: { "gateway/log/partition-log.ts": 'import { LogService } from "../streams/log-service.ts";' },
      rule: "storage never imports services, transports or the gateway's composition",
      names: 'gateway/log/partition-log.ts:1 import "../streams/log-service.ts"',
    },
    {
      what: "artefact storage importing an HTTP route",
      files: { "gateway/artefacts/chunk-store.ts": 'import { routes } from "../http/artefact-routes.ts";' },
      rule: "storage never imports services, transports or the gateway's composition",
      names: "gateway/artefacts/chunk-store.ts:1",
    },
    {
      what: "object storage importing the services type",
      files: { "gateway/objects/s3-object-store.ts": 'import type { GatewayServices } from "../services.ts";' },
      rule: "storage never imports services, transports or the gateway's composition",
      names: 'gateway/objects/s3-object-store.ts:1 type-only import "../services.ts"',
    },
    {
      what: "the log importing the gateway configuration",
      files: { "gateway/log/storage-limits.ts": 'import { resolveGatewayConfig } from "../config/gateway-config.ts";' },
      rule: "storage never imports services, transports or the gateway's composition",
      names: 'gateway/log/storage-limits.ts:1 import "../config/gateway-config.ts"',
    },
    {
      what: "the object store importing the log",
      files: { "gateway/objects/object-store.ts": 'import { x } from "../log/wal.ts";' },
      rule: "storage engines are independent: objects imports neither log nor artefacts, and log and artefacts never import each other",
      names: "gateway/objects/object-store.ts:1",
    },
    {
      what: "QUIC handlers importing the HTTP app",
      files: { "gateway/quic/control-handlers.ts": 'import { app } from "../http/app.ts";' },
      rule: "transports never import each other",
      names: 'gateway/quic/control-handlers.ts:1 import "../http/app.ts"',
    },
    {
      what: "a library importing the CLI",
      files: { "edge/edge-node.ts": 'import { sizeFlag } from "../cli/size-flag.ts";' },
      rule: "nothing imports cli except cli",
      names: 'edge/edge-node.ts:1 import "../cli/size-flag.ts"',
    },
    {
      what: "a self-reference by package name",
      files: { "edge/index.ts": 'export { blake3 } from "strata/core";' },
      rule: "source files import each other by relative path, never by the package's own name",
      names: 'edge/index.ts:1 export-from "strata/core"',
    },
    {
      what: "a dynamic import of a computed name",
      files: { "runtime/quic/listen.ts": "const m = await import(`./${kind}-listener.ts`);" },
      rule: "every import names its module with a string literal (or a const bound to one)",
      names: "runtime/quic/listen.ts:1 import(`./${kind}-listener.ts`)",
    },
  ];

  for (const c of cases) {
    test(c.what, () => {
      const violations = check(c.files);
      expect(violations.map((v) => v.rule)).toEqual([c.rule]);
      expect(violations[0]?.message).toContain(c.names);
      expect(violations[0]?.message).toContain(`breaks "${c.rule}"`);
    });
  }

  test("edge/browser reaching a node: module through other files, with the chain", () => {
    const violations = check({
      "edge/browser/pull.ts": 'import { plan } from "../artefacts/chunk-plan.ts";',
      "edge/artefacts/chunk-plan.ts": 'import { hex } from "../../core/util/hex.ts";\nimport { open } from "./output-file.ts";',
      "edge/artefacts/output-file.ts": 'import { rename } from "node:fs/promises";',
      "core/util/hex.ts": "",
    });
    expect(violations.map((v) => v.rule)).toEqual(["edge/browser imports no node: module, directly or transitively"]);
    expect(violations[0]?.message).toContain(
      "reached by edge/browser/pull.ts → edge/artefacts/chunk-plan.ts → edge/artefacts/output-file.ts → node:fs/promises",
    );
  });

  test("edge/browser reaching an allowed core built-in: the core allowance does not extend to browsers", () => {
    const violations = check({
      "edge/browser/index.ts": 'import { compress } from "../../core/tensors/byte-codecs.ts";',
      "core/tensors/byte-codecs.ts": 'import * as zlib from "node:zlib";',
    });
    expect(violations.map((v) => v.message)).toEqual([
      'core/tensors/byte-codecs.ts:1 import "node:zlib" breaks "edge/browser imports no node: module, directly or transitively": reached by edge/browser/index.ts → core/tensors/byte-codecs.ts → node:zlib',
    ]);
  });

  test("an import cycle, type-only imports included, shown as a path", () => {
    const violations = check({
      "gateway/log/partition-log.ts": 'import { read } from "./partition-reader.ts";',
      "gateway/log/partition-reader.ts": 'import type { PartitionContext } from "./segment-view.ts";',
      "gateway/log/segment-view.ts": 'import type { PartitionLog } from "./partition-log.ts";',
      "gateway/log/wal.ts": 'import { x } from "./segment-format.ts";',
      "gateway/log/segment-format.ts": "",
    });
    expect(violations.map((v) => v.message)).toEqual([
      'import cycle gateway/log/partition-log.ts → gateway/log/partition-reader.ts → gateway/log/segment-view.ts → gateway/log/partition-log.ts breaks "no import cycles between files"',
    ]);
  });

  test("a group of files with several circles, every file named", () => {
    const violations = check({
      "runtime/quic/listen.ts": 'await import("./node-listener.ts");\nawait import("./deno-listener.ts");',
      "runtime/quic/node-listener.ts": 'import type { QuicListener } from "./listen.ts";',
      "runtime/quic/deno-listener.ts": 'import type { QuicListener } from "./listen.ts";',
    });
    expect(violations.map((v) => v.message)).toEqual([
      'import cycle runtime/quic/deno-listener.ts → runtime/quic/listen.ts → runtime/quic/deno-listener.ts breaks "no import cycles between files" (files in the group: runtime/quic/deno-listener.ts, runtime/quic/listen.ts, runtime/quic/node-listener.ts)',
    ]);
  });

  test("a file importing itself", () => {
    expect(check({ "cli/main.ts": 'import "./main.ts";' }).map((v) => v.message)).toEqual([
      'import cycle cli/main.ts → cli/main.ts breaks "no import cycles between files"',
    ]);
  });

  test("a computed import outside the allowed launcher", () => {
    const violations = check({ "bin/strata.mjs": "await import(bundleUrl());", "cli/main.ts": "await import(commandFile());" });
    expect(violations.map((v) => v.message)).toEqual(['cli/main.ts:1 import(commandFile()) breaks "every import names its module with a string literal (or a const bound to one)"']);
  });

  test("an allowance that is no longer used", () => {
    const files = tree({ "core/tensors/byte-codecs.ts": 'import "node:zlib";', "core/util/buffers.ts": "export {};", "bin/strata.mjs": 'import "node:child_process";' });
    const stale = checkDependencyRules(files, "strata").filter((v) => v.rule === STALE_ALLOWANCE_RULE);
    expect(stale.map((v) => v.message)).toEqual([
      "core/util/buffers.ts no longer imports node:buffer: remove it from CORE_BUILTIN_ALLOWANCES",
      "bin/strata.mjs has no computed import any more: remove it from OPAQUE_IMPORT_ALLOWANCES",
    ]);
  });
});

describe("the rule checker accepts", () => {
  test("the imports the architecture intends", () => {
    const allowed = {
      "core/wasm.ts": 'import { wasmBase64 } from "../wasm/module.generated.ts";\nimport { decode } from "@msgpack/msgpack";',
      "core/tensors/byte-codecs.ts": 'import * as zlib from "node:zlib";',
      "core/util/buffers.ts": 'import { Buffer } from "node:buffer";',
      "wasm/build.mjs": 'import { execFileSync } from "node:child_process";',
      "bin/strata.mjs": 'import { spawn } from "node:child_process";\nawait import(pathToFileURL(bundle).href);',
      "runtime/quic/connect.ts": 'import { StrataError } from "../../core/errors.ts";\nimport { createPrivateKey } from "node:crypto";',
      "gateway/quic/server.ts": 'import { listenQuic } from "../../runtime/quic/listen.ts";\nimport { services } from "../services.ts";',
      "gateway/http/app.ts": 'import { LogService } from "../streams/log-service.ts";\nimport { artefacts } from "../artefacts/artefacts.ts";',
      "gateway/streams/log-service.ts": 'import { LogStore } from "../log/log-store.ts";\nimport { index } from "../artefacts/artefact-ref-index.ts";',
      "gateway/log/log-store.ts": 'import { ObjectStore } from "../objects/object-store.ts";\nimport { metrics } from "../metrics.ts";\nimport { db } from "../db/database.ts";',
      "gateway/artefacts/chunk-store.ts": 'import { ObjectStore } from "../objects/object-store.ts";',
      "edge/transports/quic-client.ts": 'import { connectQuic } from "../../runtime/quic/connect.ts";',
      "edge/browser/publish.ts": 'import { hex } from "../../core/util/hex.ts";\nimport { encode } from "@msgpack/msgpack";',
      "cli/serve.ts": 'import { openGateway } from "../gateway/gateway.ts";\nimport { openEdge } from "../edge/index.ts";\nimport { hash } from "./hash.ts";',
    };
    expect(report(checkDependencyRules(tree(allowed), "strata"))).toBe("");
  });

  test("core allowances are core files, each with a reason", () => {
    for (const [path, allowance] of CORE_BUILTIN_ALLOWANCES) {
      expect(path.startsWith("core/")).toBe(true);
      expect(allowance.reason.length).toBeGreaterThan(0);
    }
  });
});
