// The segment uploader's states: idle → uploading → failing(backoff doubling) → uploading → idle,
// durable waiters told at each failure, and stop() ending a backoff wait at once.
import { expect, test } from "bun:test";
import { SegmentUploader, type UploaderState } from "../../gateway/log/segment-uploader.ts";
import { waitUntil } from "./segment-tiers.contract.ts";

/** Segments are numbers; `failures` uploads fail before they start to succeed. */
function harness(segments: number[], failures: number) {
  const queue = [...segments];
  const seen = { uploaded: [] as number[], failing: [] as string[], backoffs: [] as number[], drained: 0, states: [] as UploaderState["kind"][] };
  let left = failures;
  const uploader: SegmentUploader<number> = new SegmentUploader<number>("test partition", {
    next: () => queue[0],
    upload: async (segment) => {
      seen.states.push(uploader.state.kind);
      if (left > 0) {
        left--;
        throw new Error(`object store down (${left} more)`);
      }
      queue.shift();
      seen.uploaded.push(segment);
    },
    failing: (error, _cause, segment) => {
      expect(error.code).toBe("STORAGE_ERROR");
      seen.failing.push(`${segment}: ${uploader.failure?.message ?? ""}`);
      const state = uploader.state;
      if (state.kind === "failing") seen.backoffs.push(state.backoffMs);
    },
    drained: () => void seen.drained++,
  });
  return { uploader, queue, seen };
}

test("failures back off (doubling) and the uploader is healthy again after a success", async () => {
  const { uploader, seen } = harness([1, 2], 2);
  expect(uploader.state).toEqual({ kind: "idle" });
  uploader.kick();
  expect(uploader.busy).toBe(true);
  await waitUntil(() => seen.drained === 1);
  expect(uploader.state).toEqual({ kind: "idle" });
  expect(uploader.failure).toBeUndefined();
  expect(seen.uploaded).toEqual([1, 2]);
  expect(seen.failing).toHaveLength(2);
  expect(seen.backoffs).toEqual([100, 200]);
  expect(seen.failing[0]).toContain("1: ");
  expect(seen.states).toEqual(["uploading", "failing", "failing", "uploading"]);
  await uploader.stop();
  expect(uploader.state).toEqual({ kind: "stopped" });
  uploader.kick();
  expect(uploader.state).toEqual({ kind: "stopped" });
});

test("stop() during a backoff wait ends it at once and uploads nothing more", async () => {
  const { uploader, seen } = harness([1], 1_000);
  uploader.kick();
  await waitUntil(() => uploader.state.kind === "failing");
  await uploader.stop();
  expect(uploader.state).toEqual({ kind: "stopped" });
  expect(seen.uploaded).toEqual([]);
  expect(seen.drained).toBe(0);
});
