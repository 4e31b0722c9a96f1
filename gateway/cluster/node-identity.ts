// A gateway's name in the cluster: `clusterMode.node` (--node) when given, otherwise a stable id
// generated once and kept in DATA/node-id, so a restarted gateway is the same member (a new
// incarnation of it) and not a new one.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";

/** The file under the data directory that keeps a generated node name. */
export const NODE_ID_FILE = "node-id";

/** The node names the configuration accepts (gateway-config.ts clusterMode.node). */
export const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

/** The configured name, else the one kept in DATA/node-id, else a new `gw-<16 hex>` written there. */
export async function resolveNodeName(dataDir: string, configured: string | undefined): Promise<string> {
  if (configured !== undefined) return nodeName.parse(configured);
  const file = join(dataDir, NODE_ID_FILE);
  let kept: string | undefined;
  try {
    kept = (await readFile(file, "utf8")).trim();
  } catch (e) {
    if (!(e instanceof Error && "code" in e && e.code === "ENOENT")) throw e;
  }
  if (kept !== undefined) {
    const parsed = nodeName.safeParse(kept);
    if (!parsed.success) throw new StrataError("BAD_REQUEST", `${file} does not hold a node name (letters, digits, . _ -, at most 64): remove it or start with --node NAME`);
    return parsed.data;
  }
  const generated = `gw-${randomBytes(8).toString("hex")}`;
  // Written whole or not at all: a crash mid-write must not leave a half name.
  await writeFile(`${file}.tmp`, `${generated}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
  return generated;
}
