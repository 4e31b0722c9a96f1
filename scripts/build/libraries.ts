// `npm run build:lib`: the JavaScript and the declarations of the package's public entry points
// (its `exports` map), so `@strata-gw/strata/core`, `/client` and `/edge` load under Node 20+,
// Bun and Deno from an installed package. Runs under Bun (it uses Bun.build).
//
// The entries come from package.json's exports map, so the map is the one list: an export whose
// `default` is under dist/lib/ is bundled from the same path in the source tree (`.js` -> `.ts`);
// dist/browser/ is written by `npm run build:browser`. All dist/lib entries are bundled in one
// pass with code splitting, so code they share (StrataError, the WASM kernels) exists once and
// `instanceof` holds across entry points. Declarations come from tsconfig.build.json.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { z } from "zod";

const ROOT = resolve(import.meta.dir, "..", "..");
const LIB_DIR = "dist/lib";
const TYPES_DIR = "dist/types";

/** Files a module reads beside itself at run time, copied next to whichever output holds it. */
const ASSETS_BESIDE = [
  { module: "edge/db/database.ts", from: "edge/db/migrations", as: "edge-migrations" },
  { module: "gateway/db/database.ts", from: "gateway/db/migrations", as: "migrations" },
] as const;

const exportTarget = z.object({ types: z.string(), default: z.string() });
const packageJson = z.object({
  exports: z.record(z.string(), z.union([z.string(), exportTarget])),
});

function fail(message: string): never {
  process.stderr.write(`build:lib: ${message}\n`);
  process.exit(1);
}

/** The conditional exports (subpath -> types and default), from package.json. */
function conditionalExports(): Array<[string, z.infer<typeof exportTarget>]> {
  const { exports } = packageJson.parse(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")));
  return Object.entries(exports).flatMap(([subpath, target]) => (typeof target === "string" ? [] : [[subpath, target] as [string, z.infer<typeof exportTarget>]]));
}

/** `./dist/lib/core/index.js` -> `core/index.ts`. */
function sourceOf(target: string): string {
  const prefix = `./${LIB_DIR}/`;
  if (!target.startsWith(prefix) || !target.endsWith(".js")) fail(`export target ${target} is not a .js file under ${LIB_DIR}/`);
  return `${target.slice(prefix.length, -".js".length)}.ts`;
}

async function bundle(entries: string[]): Promise<void> {
  rmSync(join(ROOT, LIB_DIR), { recursive: true, force: true });
  const result = await Bun.build({
    entrypoints: entries.map((entry) => join(ROOT, entry)),
    root: ROOT,
    outdir: join(ROOT, LIB_DIR),
    target: "node",
    format: "esm",
    splitting: true,
    packages: "external",
    naming: { entry: "[dir]/[name].[ext]", chunk: "chunks/[name]-[hash].[ext]" },
    metafile: true,
  });
  if (!result.success) fail(result.logs.map(String).join("\n"));
  const metafile = result.metafile;
  if (!metafile) fail("Bun.build returned no metafile");
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    const sources = new Set(Object.keys(inputs).map((input) => relative(ROOT, resolve(ROOT, input))));
    for (const asset of ASSETS_BESIDE) {
      if (!sources.has(asset.module)) continue;
      const dir = dirname(resolve(ROOT, LIB_DIR, output));
      cpSync(join(ROOT, asset.from), join(dir, asset.as), { recursive: true });
    }
  }
}

function declarations(): void {
  rmSync(join(ROOT, TYPES_DIR), { recursive: true, force: true });
  try {
    execFileSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
  } catch {
    fail("tsc -p tsconfig.build.json failed");
  }
}

const exportsMap = conditionalExports();
const libEntries = exportsMap.filter(([, target]) => target.default.startsWith(`./${LIB_DIR}/`)).map(([, target]) => sourceOf(target.default));
await bundle(libEntries);
declarations();

// Every target of the exports map must now exist (dist/browser comes from build:browser).
const missing = exportsMap
  .flatMap(([subpath, target]) => [target.types, ...(target.default.startsWith(`./${LIB_DIR}/`) ? [target.default] : [])].map((file) => [subpath, file] as const))
  .filter(([, file]) => !existsSync(join(ROOT, file)));
if (missing.length > 0) fail(`exports without their file: ${missing.map(([subpath, file]) => `${subpath} -> ${file}`).join(", ")} (add the entry to tsconfig.build.json?)`);
process.stdout.write(`build:lib: ${libEntries.join(", ")} -> ${LIB_DIR}/, declarations -> ${TYPES_DIR}/\n`);
