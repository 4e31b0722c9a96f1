// `strata chunks FILE`: the FastCDC chunks of a file with their BLAKE3 hashes.
import { closeSync, openSync, readSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { bytesToHex } from "../core/hashing/blake3.ts";
import { type Chunk, CHUNK_DEFAULTS, createChunker } from "../core/chunking/chunking.ts";
import { defineAction } from "./command.ts";
import { sizeText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const details = `
Splits FILE into content-defined chunks (FastCDC) and prints "OFFSET LENGTH BLAKE3" per chunk,
or with --json one object {file, chunks: [{offset, length, hash}], size, count, averageSize}.
SIZE is bytes, or with a K/M suffix (KiB/MiB). A file ending in .safetensors (or with
--safetensors) gets its header as one chunk and boundaries at every tensor boundary.`;

const READ_SIZE = 1 << 20;

const chunksOpts = z.object({
  json: z.boolean().default(false),
  min: sizeText,
  avg: sizeText,
  max: sizeText,
  safetensors: z.boolean().default(false),
});

export function registerChunks(program: Command): void {
  const command = program
    .command("chunks")
    .summary("content-defined chunks of a file (FastCDC + BLAKE3)")
    .description("Prints the content-defined chunks of FILE.")
    .argument("<FILE>", "the file to chunk")
    .option("--json", "print one JSON object")
    .option("--min <SIZE>", "smallest chunk", String(CHUNK_DEFAULTS.minSize))
    .option("--avg <SIZE>", "average chunk", String(CHUNK_DEFAULTS.avgSize))
    .option("--max <SIZE>", "largest chunk", String(CHUNK_DEFAULTS.maxSize))
    .option("--safetensors", "cut at the safetensors header and tensor boundaries (default for *.safetensors)")
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: chunksOpts }, async ([file], opts) => {
    const chunker = createChunker({ minSize: opts.min, avgSize: opts.avg, maxSize: opts.max, safetensors: opts.safetensors || file.endsWith(".safetensors") });
    // Printed as chunks are found, so memory stays bounded for any file size.
    let count = 0;
    let size = 0;
    const print = async (chunks: Chunk[]): Promise<void> => {
      if (chunks.length === 0) return;
      const lines = chunks.map((c) =>
        opts.json
          ? `${count++ === 0 ? "" : ",\n"}{"offset":${c.offset},"length":${c.length},"hash":"${bytesToHex(c.hash)}"}`
          : `${c.offset} ${c.length} ${bytesToHex(c.hash)}\n`,
      );
      if (!opts.json) count += chunks.length;
      for (const c of chunks) size += c.length;
      await writeOut(lines.join(""));
    };
    const fd = openSync(file, "r");
    try {
      if (opts.json) await writeOut(`{"file":${JSON.stringify(file)},"chunks":[\n`);
      const buffer = new Uint8Array(READ_SIZE);
      for (;;) {
        const n = readSync(fd, buffer, 0, READ_SIZE, null);
        if (n === 0) break;
        await print(chunker.push(buffer.subarray(0, n)));
      }
      await print(chunker.end());
    } finally {
      closeSync(fd);
    }
    if (opts.json) {
      const averageSize = count ? Math.round(size / count) : 0;
      await writeOut(`${count ? "\n" : ""}],"size":${size},"count":${count},"averageSize":${averageSize}}\n`);
    }
    return 0;
  });
}
