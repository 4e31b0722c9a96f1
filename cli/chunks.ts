// `strata chunks FILE`: the FastCDC chunks of a file with their BLAKE3 hashes.
import { closeSync, openSync, readSync } from "node:fs";
import { bytesToHex } from "../core/hashing/blake3.ts";
import { type Chunk, CHUNK_DEFAULTS, createChunker } from "../core/chunking/chunking.ts";
import { type Command, flag, parseArgs, UsageError } from "./command.ts";

const usage = `usage: strata chunks FILE [--json] [--min SIZE] [--avg SIZE] [--max SIZE] [--safetensors]

Splits FILE into content-defined chunks (FastCDC) and prints "OFFSET LENGTH BLAKE3" per chunk,
or with --json one object {file, chunks: [{offset, length, hash}], size, count, averageSize}.
SIZE is bytes, or with a K/M suffix (KiB/MiB). Defaults: --min 16K --avg 64K --max 256K.
A file ending in .safetensors (or with --safetensors) gets its header as one chunk and
boundaries at every tensor boundary.`;

const READ_SIZE = 1 << 20;

function parseSize(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const m = /^(\d+)([KkMm](?:i?B)?)?$/.exec(text);
  if (!m) throw new UsageError(`--${name} must be a size like 65536, 64K or 1M, got ${text}`);
  const unit = m[2] ? (m[2][0]!.toUpperCase() === "K" ? 1024 : 1024 * 1024) : 1;
  return Number(m[1]) * unit;
}

export const chunksCommand: Command = {
  name: "chunks",
  summary: "content-defined chunks of a file (FastCDC + BLAKE3)",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["min", "avg", "max"]);
    for (const s of parsed.switches) {
      if (s !== "json" && s !== "safetensors") throw new UsageError(`unknown option --${s}`);
    }
    if (parsed.positionals.length !== 1) throw new UsageError("expected exactly one FILE");
    const file = parsed.positionals[0]!;
    const chunker = createChunker({
      minSize: parseSize(flag(parsed, "min"), "min", CHUNK_DEFAULTS.minSize),
      avgSize: parseSize(flag(parsed, "avg"), "avg", CHUNK_DEFAULTS.avgSize),
      maxSize: parseSize(flag(parsed, "max"), "max", CHUNK_DEFAULTS.maxSize),
      safetensors: parsed.switches.has("safetensors") || file.endsWith(".safetensors"),
    });
    const json = parsed.switches.has("json");
    // Printed as chunks are found, so memory stays bounded for any file size.
    let count = 0;
    let size = 0;
    const print = (chunks: Chunk[]) => {
      if (chunks.length === 0) return;
      const lines = chunks.map((c) =>
        json
          ? `${count++ === 0 ? "" : ",\n"}{"offset":${c.offset},"length":${c.length},"hash":"${bytesToHex(c.hash)}"}`
          : `${c.offset} ${c.length} ${bytesToHex(c.hash)}\n`,
      );
      if (!json) count += chunks.length;
      for (const c of chunks) size += c.length;
      process.stdout.write(lines.join(""));
    };
    const fd = openSync(file, "r");
    try {
      if (json) process.stdout.write(`{"file":${JSON.stringify(file)},"chunks":[\n`);
      const buffer = new Uint8Array(READ_SIZE);
      for (;;) {
        const n = readSync(fd, buffer, 0, READ_SIZE, null);
        if (n === 0) break;
        print(chunker.push(buffer.subarray(0, n)));
      }
      print(chunker.end());
    } finally {
      closeSync(fd);
    }
    if (json) {
      const averageSize = count ? Math.round(size / count) : 0;
      process.stdout.write(`${count ? "\n" : ""}],"size":${size},"count":${count},"averageSize":${averageSize}}\n`);
    }
    return 0;
  },
};
