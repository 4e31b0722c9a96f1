// Where the log's time goes without HTTP: the gateway's services and storage engine in this
// process (openGateway on a temp dir), driven directly. Splits the log bench's numbers into
// "storage engine" and "HTTP + codecs" (not run by bench/run.ts; a profiling aid).
//   bun bench/log/inprocess.ts
// Prints: in-process publish of 1 KiB records in batches of 1000 (1 and 4 partitions) with the
// WAL flush loop's busy time (strata_wal_fsync_seconds: write + fdatasync per group commit),
// and the service-level raw read of 1 MiB records next to one CRC32C pass over the same bytes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "../../core/hashing/crc32c.ts";
import { openGateway } from "../../gateway/gateway.ts";
import { encodeRawReadResponse } from "../../gateway/streams/read-wire.ts";

const dir = mkdtempSync(join(tmpdir(), "strata-inprocess-"));
const gw = await openGateway({ dataDir: dir });
const { streams, log, metrics } = gw.services;

function walBusySeconds(): Promise<{ sum: number; count: number }> {
  return metrics.walFsyncSeconds.summary();
}

try {
  console.log("| in-process step | records/s | MB/s | WAL flush busy (write + fdatasync) | flushes |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  const small = new Uint8Array(1024).fill(1);
  for (const partitions of [1, 4]) {
    const name = `inproc-${partitions}`;
    await streams.create({ name, partitions });
    const records = Array.from({ length: 1000 }, () => ({ key: null, headers: {}, fields: { data: small } }));
    const total = 300_000;
    const concurrency = 4 * partitions;
    let sent = 0;
    const w0 = await walBusySeconds();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (sent < total) {
          sent += records.length;
          await log.publish(name, { records, producer: null }, "local");
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const w1 = await walBusySeconds();
    console.log(
      `| publish 1 KiB, batch 1000, ${partitions} partition(s), ${concurrency} in flight | ${Math.round(total / seconds).toLocaleString("en-US")} | ${((total * 1024) / 1e6 / seconds).toFixed(0)} | ${(w1.sum - w0.sum).toFixed(2)} s of ${seconds.toFixed(2)} s wall (summed over partitions) | ${w1.count - w0.count} |`,
    );
  }

  await streams.create({ name: "inproc-big", partitions: 1 });
  const big = new Uint8Array(1 << 20).fill(2);
  const bigRecords = Array.from({ length: 8 }, () => ({ key: null, headers: {}, fields: { data: big } }));
  for (let i = 0; i < 64; i++) await log.publish("inproc-big", { records: bigRecords, producer: null }, "local");
  for (let pass = 0; pass < 3; pass++) {
    let offset = 0;
    let readMs = 0;
    let encodeMs = 0;
    let crcMs = 0;
    let bytes = 0;
    while (offset < 512) {
      const a = performance.now();
      const raw = await log.readRaw({ stream: "inproc-big", partition: 0, offset, maxRecords: 10_000, maxBytes: 16 << 20 });
      const b = performance.now();
      const out = encodeRawReadResponse(raw);
      const c = performance.now();
      for (const batch of new Set(raw.records.map((r) => r.batch))) crc32c(batch.subarray(20));
      crcMs += performance.now() - c;
      readMs += b - a;
      encodeMs += c - b;
      bytes += out.length;
      offset = raw.nextOffset;
    }
    const mbps = (ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
    console.log(`| read 1 MiB records, pass ${pass + 1}: storage readBatches + scan ${mbps(readMs)} MB/s; response encode ${mbps(encodeMs)} MB/s; one CRC32C pass ${mbps(crcMs)} MB/s | | | | |`);
  }
} finally {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
}
