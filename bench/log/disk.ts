// Calibration: how fast this machine's temp filesystem takes durable sequential appends, in the
// bench's runtime. Write `chunkBytes`, fdatasync, repeat: the ceiling for any log that fsyncs
// before it acknowledges (Strata's acks=local) and writes each byte once. With `dsync`, the
// file is opened O_DSYNC and `inFlight` positional writes run at once (each durable when it
// returns): the pattern of Strata's WAL group commits (gateway/log/wal.ts).
import { constants, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function durableAppendMBps(
  totalBytes: number,
  chunkBytes: number,
  opts: { dsync?: boolean; inFlight?: number } = {},
): Promise<{ mbps: number; syncs: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), "disk-bench-"));
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (opts.dsync ? constants.O_DSYNC : 0);
  const fh = await open(join(dir, "append.bin"), flags, 0o644);
  try {
    const chunk = new Uint8Array(chunkBytes).fill(0x5a);
    let pos = 0;
    let syncs = 0;
    const t0 = performance.now();
    if (opts.dsync) {
      const inFlight = new Set<Promise<unknown>>();
      while (pos < totalBytes) {
        if (inFlight.size >= (opts.inFlight ?? 1)) await Promise.race(inFlight);
        const w: Promise<unknown> = fh.write(chunk, 0, chunk.length, pos).finally(() => inFlight.delete(w));
        inFlight.add(w);
        pos += chunk.length;
        syncs++;
      }
      await Promise.all(inFlight);
    }
    while (pos < totalBytes) {
      await fh.write(chunk, 0, chunk.length, pos);
      pos += chunk.length;
      await fh.datasync();
      syncs++;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { mbps: pos / 1e6 / seconds, syncs, seconds };
  } finally {
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
