// `strata hash FILE...`: BLAKE3 of files, printed exactly like b3sum (`HEX  NAME`), reading
// each file through the kernel's bounded input buffer. `-` (or no file) reads stdin.
import { closeSync, openSync, readSync } from "node:fs";
import { Blake3Hasher } from "../core/hashing/blake3.ts";
import { type Command, flag, parseArgs, UsageError } from "./command.ts";

const usage = `usage: strata hash [--length N] [--no-names] [FILE...]

Prints the BLAKE3 hash of each FILE as "HEX  FILE", like b3sum. With no FILE, or when FILE
is -, reads standard input.
  --length N    output N bytes (extended output), default 32
  --no-names    print only the hashes`;

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
  for await (const piece of process.stdin as AsyncIterable<Uint8Array>) hasher.update(piece);
  return hasher.digestHex(length);
}

function errorText(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  if (err.code === "ENOENT") return "No such file or directory";
  if (err.code === "EISDIR") return "Is a directory";
  if (err.code === "EACCES") return "Permission denied";
  return String(err.message ?? e);
}

export const hashCommand: Command = {
  name: "hash",
  summary: "BLAKE3 of files, printed like b3sum",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["length"]);
    for (const s of parsed.switches) if (s !== "no-names") throw new UsageError(`unknown option --${s}`);
    const lengthText = flag(parsed, "length") ?? "32";
    const length = Number(lengthText);
    if (!/^\d+$/.test(lengthText) || !Number.isSafeInteger(length) || length > 2 ** 30) {
      throw new UsageError(`--length must be an integer in [0, 2^30], got ${lengthText}`);
    }
    const noNames = parsed.switches.has("no-names");
    const files = parsed.positionals.length > 0 ? parsed.positionals : ["-"];
    let status = 0;
    const out: string[] = [];
    const flush = () => {
      if (out.length > 0) process.stdout.write(out.join(""));
      out.length = 0;
    };
    for (const file of files) {
      try {
        const hex = file === "-" ? await hashStdin(length) : hashFile(file, length);
        out.push(noNames ? `${hex}\n` : b3sumLine(hex, file));
      } catch (e) {
        flush();
        console.error(`strata hash: ${file}: ${errorText(e)}`);
        status = 1;
      }
    }
    flush();
    return status;
  },
};
