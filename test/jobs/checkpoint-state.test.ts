// The checkpoint state machine: only its edges are possible (open -> complete | aborted,
// complete -> released), each asserted; the completing rank flips it with every rank sorted;
// keep picks the newest by step, then completion time.
import { expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { abortCheckpoint, addRank, beyondKeep, markPublished, openCheckpoint, releaseCheckpoint, type CheckpointEntry, type RankCommit } from "../../gateway/jobs/checkpoint-state.ts";

const rank = (r: number, at = 1000 + r): RankCommit => ({ rank: r, artefact: `${r}`.padStart(64, "0"), state: { r }, committedAt: at });

function violation(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toBe("INTERNAL");
    return (e as StrataError).message;
  }
  throw new Error("expected an invariant violation");
}

function complete(id: string, step: number, at: number): CheckpointEntry {
  return addRank(openCheckpoint("j", id, step, 2, rank(1, at - 1)), rank(0, at));
}

test("the last rank completes the checkpoint, ranks sorted; earlier ones keep it open", () => {
  let entry = openCheckpoint("j", "c", 5, 3, rank(2));
  expect(entry.state.kind).toBe("open");
  entry = addRank(entry, rank(0));
  expect(entry.state.kind).toBe("open");
  entry = addRank(entry, rank(1, 2000));
  expect(entry.state).toMatchObject({ kind: "complete", completedAt: 2000, record: null });
  expect(entry.state.kind === "complete" && entry.state.ranks.map((c) => c.rank)).toEqual([0, 1, 2]);
  expect(openCheckpoint("j", "one", 1, 1, rank(0)).state.kind).toBe("complete");
});

test("only the machine's edges are possible", () => {
  const open = openCheckpoint("j", "c", 5, 2, rank(0));
  expect(violation(() => addRank(open, rank(0)))).toContain("added twice");
  expect(violation(() => addRank(open, rank(2)))).toContain("out of [0, 2)");
  expect(violation(() => releaseCheckpoint(open, 1))).toContain("released while open");
  expect(violation(() => markPublished(open, { partition: 0, offset: 0 }))).toContain("while open");
  const done = addRank(open, rank(1));
  expect(violation(() => addRank(done, rank(1)))).toContain("while complete");
  expect(violation(() => abortCheckpoint(done, 1))).toContain("aborted while complete");
  const published = markPublished(done, { partition: 0, offset: 3 });
  expect(violation(() => markPublished(published, { partition: 0, offset: 4 }))).toContain("already published");
  expect(releaseCheckpoint(published, 9).state).toEqual({ kind: "released", at: 9, record: { partition: 0, offset: 3 } });
  const aborted = abortCheckpoint(open, 7);
  expect(violation(() => addRank(aborted, rank(1)))).toContain("while aborted");
  expect(violation(() => releaseCheckpoint(aborted, 8))).toContain("released while aborted");
});

test("keep releases all but the newest N complete ones: highest step, then latest completion", () => {
  const entries = [complete("a", 10, 5000), complete("b", 30, 1000), complete("c", 20, 9000), complete("d", 30, 2000), openCheckpoint("j", "e", 99, 2, rank(0))];
  expect(beyondKeep(entries, 2).map((e) => e.id)).toEqual(["c", "a"]);
  expect(beyondKeep(entries, 4)).toEqual([]);
  expect(violation(() => beyondKeep(entries, 0))).toContain("keep 0");
});
