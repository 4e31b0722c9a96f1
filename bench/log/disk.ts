// Calibration: how fast this machine's temp filesystem takes durable sequential appends, in the
// bench's runtime. Write `chunkBytes`, fdatasync, repeat: the ceiling for any log that fsyncs
// before it acknowledges (Strata's acks=local) and writes each byte once.
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function durableAppendMBps(totalBytes: number, chunkBytes: number): Promise<{ mbps: number; syncs: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), "disk-bench-"));
  const fh = await open(join(dir, "append.bin"), "w");
  try {
    const chunk = new Uint8Array(chunkBytes).fill(0x5a);
    let pos = 0;
    let syncs = 0;
    const t0 = performance.now();
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
