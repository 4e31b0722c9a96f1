// Builds the UCX Node-API addon (native/src) into dist/native/strata-ucx.node with the system C
// compiler, node-api-headers and libucp. No downloads. Where the compiler, ucp.h or libucp is
// missing it prints one line saying what and exits 0: Strata works without the native path.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sources = join(root, "native", "src");
const outDir = join(root, "dist", "native");
const output = join(outDir, "strata-ucx.node");
const napiInclude = join(root, "node_modules", "node-api-headers", "include");
const compiler = process.env["CC"] ?? "gcc";

function skip(reason) {
  console.log(`native: UCX addon not built: ${reason} (Strata works without it; the UCX path stays unavailable)`);
  process.exit(0);
}

if (spawnSync(compiler, ["--version"], { stdio: "ignore" }).status !== 0) skip(`no C compiler (${compiler})`);
if (!existsSync(join(napiInclude, "node_api.h"))) skip("node-api-headers is not installed (npm install)");
const probe = spawnSync(compiler, ["-x", "c", "-", "-o", "/dev/null", "-lucp", "-lucs"], {
  input: "#include <ucp/api/ucp.h>\nint main(void) { return ucp_get_version_string() == 0; }\n",
  stdio: ["pipe", "ignore", "pipe"],
});
if (probe.status !== 0) skip("libucp or ucp/api/ucp.h is missing (apt-get install libucx-dev)");

mkdirSync(outDir, { recursive: true });
const files = readdirSync(sources).filter((f) => f.endsWith(".c")).map((f) => join(sources, f));
const args = ["-O2", "-fPIC", "-shared", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden",
  "-I", napiInclude, "-DNODE_GYP_MODULE_NAME=strata_ucx", ...files, "-o", output, "-lucp", "-lucs", "-lpthread",
  // Node, Bun and Deno provide the napi_* symbols at load time.
  "-Wl,--unresolved-symbols=ignore-all"];
const built = spawnSync(compiler, args, { stdio: "inherit" });
if (built.status !== 0) {
  console.error("native: compiling the UCX addon failed");
  process.exit(1);
}
console.log(`native: built ${output.slice(root.length + 1)}`);
