// The rules between the repository's folders (docs/architecture.md explains them) and a checker
// that turns a parsed import list into violations naming the file, the import and the rule.
import { findImportCycles, type FileGraph } from "./import-cycles.ts";
import type { ImportTarget, SourceFileImports, SourceImport } from "./source-imports.ts";

/** The folders whose files the rules govern; tests, benchmarks and examples may import anything. */
export const GOVERNED_FOLDERS = ["core", "wasm", "runtime", "gateway", "edge", "cli", "bin", "native"] as const;
/** AssemblyScript sources (compiled by asc, never imported by TypeScript) and build output. */
export const UNGOVERNED_FOLDERS = ["wasm/assembly", "wasm/build"] as const;

/**
 * core/ files that may import a runtime built-in, and why. Kept minimal: a stale entry is an
 * error, and the browser rule below still forbids reaching any of them from edge/browser.
 */
export const CORE_BUILTIN_ALLOWANCES: ReadonlyMap<string, { readonly modules: readonly string[]; readonly reason: string }> = new Map([
  [
    "core/tensors/byte-codecs.ts",
    { modules: ["node:zlib"], reason: "zstd, brotli and deflate for plane compression; Bun, Deno and Node all provide node:zlib" },
  ],
  [
    "core/util/buffers.ts",
    { modules: ["node:buffer"], reason: "Buffer.allocUnsafeSlow for read buffers that skip the zero fill (used by the gateway's WAL and local object store)" },
  ],
]);

/** Files that may import a computed module name, and why (the target is not a source file). */
export const OPAQUE_IMPORT_ALLOWANCES: ReadonlyMap<string, string> = new Map([
  ["bin/strata.mjs", "loads the bundled CLI (dist/node/strata.mjs), a build output present only in an installed package"],
]);

export interface Violation {
  readonly rule: string;
  readonly file: string;
  readonly message: string;
}

/** The part of the tree a file belongs to: `core`, `edge/browser`, `gateway/log`, `gateway` (its root files), … */
export function componentOf(path: string): string {
  const [top, second] = path.split("/");
  if (top === "gateway" && second !== undefined && path.split("/").length > 2) return `gateway/${second}`;
  if (top === "edge" && second === "browser") return "edge/browser";
  return top ?? path;
}

function targetComponent(target: ImportTarget): string | undefined {
  return target.kind === "file" ? componentOf(target.path) : undefined;
}

const STORAGE = new Set(["gateway/log", "gateway/objects", "gateway/artefacts"]);
/** Services, transports and the gateway's configuration, which gathers every subsystem's limits. */
const ABOVE_STORAGE = new Set([
  "gateway/streams",
  "gateway/consumers",
  "gateway/queues",
  "gateway/datasets",
  "gateway/jobs",
  "gateway/gradients",
  "gateway/fleet",
  "gateway/cluster",
  "gateway/observability",
  "gateway/filters",
  "gateway/http",
  "gateway/quic",
  "gateway/ucx",
  "gateway/config",
  "gateway/client",
]);
/** The gateway's composition root and the files built on it. */
const GATEWAY_COMPOSITION = new Set(["gateway/services.ts", "gateway/gateway.ts", "gateway/client.ts"]);

interface ImportRule {
  readonly name: string;
  readonly why: string;
  /** True when `edge` breaks the rule. */
  readonly breaks: (edge: SourceImport) => boolean;
}

const inFolder = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);
const fileIn = (target: ImportTarget, folder: string): boolean => target.kind === "file" && inFolder(target.path, folder);

export const IMPORT_RULES: readonly ImportRule[] = [
  {
    name: "core imports only core and wasm",
    why: "core is the shared, I/O-free library that runs in browsers, workers, Bun, Deno and Node",
    breaks: (edge) => {
      if (!inFolder(edge.from, "core")) return false;
      if (edge.target.kind === "file") return !fileIn(edge.target, "core") && !fileIn(edge.target, "wasm");
      if (edge.target.kind === "builtin") return !(CORE_BUILTIN_ALLOWANCES.get(edge.from)?.modules.includes(edge.target.module) ?? false);
      return false;
    },
  },
  {
    name: "wasm imports only wasm",
    why: "the kernel module and its build are the bottom layer; core/wasm.ts is the only way up",
    breaks: (edge) => inFolder(edge.from, "wasm") && edge.target.kind === "file" && !fileIn(edge.target, "wasm"),
  },
  {
    name: "runtime imports only core",
    why: "the node:quic and Deno QUIC adapters are shared by gateway and edge, so they can depend on neither",
    breaks: (edge) => inFolder(edge.from, "runtime") && edge.target.kind === "file" && !fileIn(edge.target, "runtime") && !fileIn(edge.target, "core"),
  },
  {
    name: "native imports only native and core",
    why: "the UCX addon's loader and typed API are shared by the gateway, the client library and the CLI, so they can depend on none of them",
    breaks: (edge) => inFolder(edge.from, "native") && edge.target.kind === "file" && !fileIn(edge.target, "native") && !fileIn(edge.target, "core"),
  },
  {
    name: "gateway and edge never import each other",
    why: "they are separate deployables that meet only on the wire (HTTP, QUIC) and in core",
    breaks: (edge) =>
      (inFolder(edge.from, "gateway") && fileIn(edge.target, "edge")) || (inFolder(edge.from, "edge") && fileIn(edge.target, "gateway")),
  },
  {
    name: "storage never imports services, transports or the gateway's composition",
    why: "gateway/log, gateway/objects and gateway/artefacts are engines the services drive and hand their limits to, not the other way round",
    breaks: (edge) => {
      if (!STORAGE.has(componentOf(edge.from)) || edge.target.kind !== "file") return false;
      return ABOVE_STORAGE.has(componentOf(edge.target.path)) || GATEWAY_COMPOSITION.has(edge.target.path);
    },
  },
  {
    name: "storage engines are independent: objects imports neither log nor artefacts, and log and artefacts never import each other",
    why: "the object store is the layer both engines write to; the artefact reference index is fed by the log service, not by the log",
    breaks: (edge) => {
      const from = componentOf(edge.from);
      const to = targetComponent(edge.target);
      if (to === undefined || to === from) return false;
      if (from === "gateway/objects") return to === "gateway/log" || to === "gateway/artefacts";
      return (from === "gateway/log" && to === "gateway/artefacts") || (from === "gateway/artefacts" && to === "gateway/log");
    },
  },
  {
    name: "transports never import each other",
    why: "HTTP and QUIC are peers over the same services; what both need lives in the services or core",
    breaks: (edge) => {
      const from = componentOf(edge.from);
      const to = targetComponent(edge.target);
      const transports = new Set(["gateway/http", "gateway/quic", "gateway/ucx"]);
      return from !== to && from !== undefined && to !== undefined && transports.has(from) && transports.has(to);
    },
  },
  {
    name: "the client library (gateway/client.ts, gateway/client/) imports only core, native, itself and the services' wire modules (*-wire.ts), besides types",
    why: "it is shipped to serverless functions and training jobs as @strata-gw/strata/client; server code (libSQL, the log, the object stores) must never come with it",
    breaks: (edge) => {
      if (edge.typeOnly || edge.target.kind !== "file") return false;
      if (edge.from !== "gateway/client.ts" && !inFolder(edge.from, "gateway/client")) return false;
      const path = edge.target.path;
      // native/: the UCX path's addon loader (gateway/client/ucx-segments.ts), loaded only when used.
      return !inFolder(path, "core") && !inFolder(path, "wasm") && !inFolder(path, "native") && !inFolder(path, "gateway/client") && !/^gateway\/[a-z]+\/[a-z-]+-wire\.ts$/.test(path);
    },
  },
  {
    name: "nothing imports cli except cli",
    why: "the strata command sits on top of the libraries; a library that needed it would drag in argument parsing and process exits",
    breaks: (edge) => !inFolder(edge.from, "cli") && fileIn(edge.target, "cli"),
  },
];

const SELF_REFERENCE_RULE = "source files import each other by relative path, never by the package's own name";
const OPAQUE_IMPORT_RULE = "every import names its module with a string literal (or a const bound to one)";
const BROWSER_RULE = "edge/browser imports no node: module, directly or transitively";
const CYCLE_RULE = "no import cycles between files";
export const STALE_ALLOWANCE_RULE = "every allowance (core built-ins, computed imports) is still used";

/** The name of every rule checkDependencyRules applies. */
export const RULE_NAMES: readonly string[] = [
  ...IMPORT_RULES.map((rule) => rule.name),
  SELF_REFERENCE_RULE,
  OPAQUE_IMPORT_RULE,
  BROWSER_RULE,
  CYCLE_RULE,
  STALE_ALLOWANCE_RULE,
];

function describeImport(edge: SourceImport): string {
  const resolved = edge.target.kind === "file" && edge.target.path !== edge.specifier ? ` (${edge.target.path})` : "";
  const form = edge.typeOnly ? "type-only " : "";
  return `${edge.from}:${edge.line} ${form}${edge.form} "${edge.specifier}"${resolved}`;
}

/** Violations of the per-import rules. */
export function checkImportRules(files: readonly SourceFileImports[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    for (const edge of file.imports) {
      for (const rule of IMPORT_RULES) {
        if (rule.breaks(edge)) violations.push({ rule: rule.name, file: edge.from, message: `${describeImport(edge)} breaks "${rule.name}": ${rule.why}` });
      }
    }
  }
  return violations;
}

/** A package must not import itself by its published name: that would bypass the folder rules. */
export function checkSelfReferences(files: readonly SourceFileImports[], packageName: string): Violation[] {
  const rule = SELF_REFERENCE_RULE;
  return files.flatMap((file) =>
    file.imports
      .filter((edge) => edge.target.kind === "package" && edge.target.name === packageName)
      .map((edge) => ({ rule, file: edge.from, message: `${describeImport(edge)} breaks "${rule}"` })),
  );
}

/** A dynamic import of a computed name cannot be checked, so it is refused. */
export function checkOpaqueImports(files: readonly SourceFileImports[]): Violation[] {
  const rule = OPAQUE_IMPORT_RULE;
  return files
    .filter((file) => !OPAQUE_IMPORT_ALLOWANCES.has(file.path))
    .flatMap((file) =>
      file.opaque.map((opaque) => ({ rule, file: opaque.from, message: `${opaque.from}:${opaque.line} ${opaque.expression} breaks "${rule}"` })),
    );
}

/**
 * edge/browser must load in a browser: no runtime built-in may be reachable from it, through any
 * chain of imports. Each offending import is reported once, with the shortest chain to it.
 */
export function checkBrowserReach(files: readonly SourceFileImports[]): Violation[] {
  const rule = BROWSER_RULE;
  const byPath = new Map(files.map((file) => [file.path, file]));
  const roots = files.filter((file) => componentOf(file.path) === "edge/browser").map((file) => file.path);
  const previous = new Map<string, string | null>(roots.map((root) => [root, null]));
  const queue = [...roots];
  const violations: Violation[] = [];
  for (let head = 0; head < queue.length; head++) {
    const path = queue[head];
    const file = path === undefined ? undefined : byPath.get(path);
    if (file === undefined) continue;
    for (const edge of file.imports) {
      if (edge.target.kind === "builtin") {
        const chain: string[] = [];
        for (let at: string | null | undefined = file.path; at != null; at = previous.get(at)) chain.unshift(at);
        violations.push({ rule, file: file.path, message: `${describeImport(edge)} breaks "${rule}": reached by ${[...chain, edge.target.module].join(" → ")}` });
      } else if (edge.target.kind === "file" && !previous.has(edge.target.path)) {
        previous.set(edge.target.path, file.path);
        queue.push(edge.target.path);
      }
    }
  }
  return violations;
}

/** Import cycles between files, type-only imports included (they couple the files all the same). */
export function checkImportCycles(files: readonly SourceFileImports[]): Violation[] {
  const rule = CYCLE_RULE;
  const graph: FileGraph = new Map(
    files.map((file) => [file.path, file.imports.flatMap((edge) => (edge.target.kind === "file" ? [edge.target.path] : []))]),
  );
  return findImportCycles(graph).map((cycle) => {
    // A group bigger than the circle shown has more circles: name every file in it.
    const others = cycle.files.length + 1 > cycle.path.length ? ` (files in the group: ${cycle.files.join(", ")})` : "";
    return { rule, file: cycle.files[0] ?? "", message: `import cycle ${cycle.path.join(" → ")} breaks "${rule}"${others}` };
  });
}

/** Allow-list entries that no longer match an import: the lists stay minimal. */
export function checkStaleAllowances(files: readonly SourceFileImports[]): Violation[] {
  const rule = STALE_ALLOWANCE_RULE;
  const byPath = new Map(files.map((file) => [file.path, file]));
  const violations: Violation[] = [];
  for (const [path, allowance] of CORE_BUILTIN_ALLOWANCES) {
    for (const module of allowance.modules) {
      const used = byPath.get(path)?.imports.some((edge) => edge.target.kind === "builtin" && edge.target.module === module) ?? false;
      if (!used) violations.push({ rule, file: path, message: `${path} no longer imports ${module}: remove it from CORE_BUILTIN_ALLOWANCES` });
    }
  }
  for (const path of OPAQUE_IMPORT_ALLOWANCES.keys()) {
    if ((byPath.get(path)?.opaque.length ?? 0) === 0) {
      violations.push({ rule, file: path, message: `${path} has no computed import any more: remove it from OPAQUE_IMPORT_ALLOWANCES` });
    }
  }
  return violations;
}

/** Every rule over the whole tree. */
export function checkDependencyRules(files: readonly SourceFileImports[], packageName: string): Violation[] {
  return [
    ...checkImportRules(files),
    ...checkSelfReferences(files, packageName),
    ...checkOpaqueImports(files),
    ...checkBrowserReach(files),
    ...checkImportCycles(files),
    ...checkStaleAllowances(files),
  ];
}
