// A roll closes the active WAL while readers may still have positional reads of it in flight. The
// descriptor must outlive them: closed under a queued read, its number could be reused by the
// next open (the directory fsync, the next WAL) and the read would return that file's bytes.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WalClosedError, WalFile } from "../../gateway/log/wal.ts";
import { nodeWalIo, type WalFileHandle, type WalIo } from "../../gateway/log/wal-io.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "strata-wal-close-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A WalIo whose reads wait for `release` and whose handles log when they close. */
function gatedIo(): { io: WalIo; release: () => void; events: string[] } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const events: string[] = [];
  const io: WalIo = {
    rename: nodeWalIo.rename,
    async open(path, flags, mode) {
      const real = await nodeWalIo.open(path, flags, mode);
      const handle: WalFileHandle = {
        write: (b, o, l, p) => real.write(b, o, l, p),
        writev: (b, p) => real.writev(b, p),
        sync: () => real.sync(),
        datasync: () => real.datasync(),
        truncate: (l) => real.truncate(l),
        stat: () => real.stat(),
        async read(b, o, l, p) {
          events.push("read started");
          await gate;
          const got = await real.read(b, o, l, p);
          events.push("read done");
          return got;
        },
        async close() {
          if (path.endsWith(".wal")) events.push("wal closed");
          await real.close();
        },
      };
      return handle;
    },
  };
  return { io, release, events };
}

test("close waits for reads in flight; a read after close is a WalClosedError", async () => {
  const { io, release, events } = gatedIo();
  const wal = await WalFile.create(io, dir, 0, 4096);
  const bytes = new Uint8Array(1000).fill(7);
  await wal.append([{ baseOffset: 0, count: 1, bytes, firstTimestamp: 1, maxTimestamp: 1 }]);

  const reading = wal.read(0, bytes.length);
  const closing = wal.close();
  // The close is parked behind the read: the descriptor is still open.
  await new Promise((resolve) => setImmediate(resolve));
  expect(events).toEqual(["read started"]);
  await expect(wal.read(0, 10)).rejects.toBeInstanceOf(WalClosedError);

  release();
  expect(await reading).toEqual(bytes);
  await closing;
  expect(events).toEqual(["read started", "read done", "wal closed"]);
  await expect(wal.read(0, 10)).rejects.toBeInstanceOf(WalClosedError);
});

test("close with no read in flight closes at once", async () => {
  const { io, events } = gatedIo();
  const wal = await WalFile.create(io, dir, 0, 4096);
  await wal.close();
  expect(events).toEqual(["wal closed"]);
  await wal.close(); // twice is harmless
  expect(events).toEqual(["wal closed"]);
});
