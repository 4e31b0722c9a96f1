// The queue's group commit alone: snapshots submitted while a transaction runs share the next
// one, in order; a failed transaction refuses its batch and everything queued behind it, and
// every submit until the owner has reloaded.
import { describe, expect, test } from "bun:test";
import { WriteBatcher } from "../../gateway/queues/write-batcher.ts";

/** A promise and its resolver, to hold a transaction open. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("WriteBatcher", () => {
  test("submits queued behind a running transaction are written together, in order", async () => {
    const writes: number[][] = [];
    const first = gate();
    const batcher = new WriteBatcher<number>(async (items) => {
      writes.push([...items]);
      if (writes.length === 1) await first.promise;
    }, async () => undefined);
    const a = batcher.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [batcher.submit(2), batcher.submit(3), batcher.submit(4)];
    first.open();
    await Promise.all([a, ...rest]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  test("a failed transaction refuses its batch, what queued behind it, and submits until the reload is done", async () => {
    const held = gate();
    const reload = gate();
    let calls = 0;
    const batcher = new WriteBatcher<number>(
      async () => {
        calls++;
        await held.promise;
        if (calls === 1) throw new Error("disk on fire");
      },
      () => reload.promise,
    );
    const first = batcher.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = batcher.submit(2);
    const settled = Promise.allSettled([first, queued]);
    held.open();
    const [a, b] = await settled;
    expect([a!.status, b!.status]).toEqual(["rejected", "rejected"]);
    expect(String(a!.status === "rejected" && a!.reason)).toContain("disk on fire");
    await expect(batcher.submit(3)).rejects.toThrow("reloaded");
    reload.open();
    await new Promise((resolve) => setImmediate(resolve));
    await batcher.submit(4);
    expect(calls).toBe(2);
  });
});
