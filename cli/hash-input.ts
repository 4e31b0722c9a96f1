// Hashing what `strata hash` is given: a file through the kernel's bounded input buffer, or
// standard input for `-`; and the b3sum line format.
import { closeSync, openSync, readSync } from "node:fs";
import { Blake3Hasher } from "../core/hashing/blake3.ts";

export const STDIN = "-";

/**
 * One output line, escaped like b3sum (and sha256sum): when the name contains a backslash or
 * a newline, those are escaped and the whole line starts with a backslash.
 */
export function b3sumLine(hex: string, name: string): string {
  if (!name.includes("\\") && !name.includes("\n")) return `${hex}  ${name}\n`;
  return `\\${hex}  ${name.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}\n`;
}

function hashFile(path: string, length: number): string {
  const fd = openSync(path, "r");
  try {
    const hasher = Blake3Hasher.create();
    while (hasher.updateFrom((into) => readSync(fd, into, 0, into.length, null)) > 0);
    return hasher.digestHex(length);
  } finally {
    closeSync(fd);
  }
}

async function hashStdin(length: number): Promise<string> {
  const hasher = Blake3Hasher.create();
  for await (const piece of process.stdin) hasher.update(typeof piece === "string" ? new TextEncoder().encode(piece) : piece);
  return hasher.digestHex(length);
}

/** The hex BLAKE3 of a file, or of standard input for `-`. */
export function hashInput(path: string, length: number): Promise<string> {
  return path === STDIN ? hashStdin(length) : Promise.resolve().then(() => hashFile(path, length));
}
