// The ObjectStore contract on the local-directory store, plus what only a directory can get wrong.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { bytes, expectCode, listKeys, objectStoreContract, same } from "./object-store.contract.ts";

const root = await mkdtemp(join(tmpdir(), "strata-objects-"));
let n = 0;
const open = () => LocalObjectStore.open(join(root, `store-${n++}`));

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

objectStoreContract("local directory", open);

describe("LocalObjectStore", () => {
  test("keys map to files under the root, and nothing escapes it", async () => {
    const s = await open();
    await s.put("streams/a/0/x.seg", bytes(10, 1));
    expect(await readdir(join(s.root, "streams", "a", "0"))).toEqual(["x.seg"]);
    await expectCode(s.put("../outside", bytes(1, 1)), "BAD_REQUEST");
    expect((await readdir(join(s.root, ".."))).includes("outside")).toBe(false);
    expect(s.description).toBe(`dir:${s.root}`);
  });

  test("putFile hard-links the file into place: no second copy, no temp file left", async () => {
    const s = await open();
    const src = join(root, `src-${n++}.seg`);
    await writeFile(src, bytes(5000, 9));
    const info = await s.putFile("streams/a/0/y.seg", src);
    const obj = join(s.root, "streams", "a", "0", "y.seg");
    expect((await stat(obj)).ino).toBe((await stat(src)).ino);
    await s.putFile("streams/a/0/y.seg", src); // again: rename between links of one inode
    expect(await readdir(join(s.root, "streams", "a", "0"))).toEqual(["y.seg"]);
    expect(info.size).toBe(5000);
  });

  test("putFile across file systems copies the file instead of linking it", async () => {
    const other = "/dev/shm";
    const s = await open();
    const st = await stat(other).catch(() => undefined);
    if (!st?.isDirectory() || st.dev === (await stat(s.root)).dev) return; // no second file system here
    const dir = await mkdtemp(join(other, "strata-putfile-"));
    try {
      const body = bytes(3 * 1024 * 1024 + 5, 10);
      const src = join(dir, "x.seg");
      await writeFile(src, body);
      const info = await s.putFile("cross/x.seg", src);
      expect(info.size).toBe(body.length);
      expect((await stat(join(s.root, "cross", "x.seg"))).ino).not.toBe((await stat(src)).ino);
      expect(same(await s.get("cross/x.seg"), body)).toBe(true);
      expect(await readdir(join(s.root, "cross"))).toEqual(["x.seg"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a key cannot be both a file and a directory", async () => {
    const s = await open();
    await s.put("a/b", bytes(1, 1));
    await expectCode(s.put("a", bytes(1, 2)), "BAD_REQUEST");
    await expectCode(s.put("a", bytes(1, 2), { ifNoneMatch: true }), "BAD_REQUEST");
    await expectCode(s.put("a/b/c", bytes(1, 2)), "BAD_REQUEST");
    expect(await s.head("a")).toBeUndefined();
    await expectCode(s.get("a"), "NOT_FOUND");
    await s.delete("a"); // a directory is not an object: nothing to delete
    expect(await listKeys(s, "")).toEqual(["a/b"]);
  });

  test("no temp files are left behind, leftover ones are not listed", async () => {
    const s = await open();
    await s.put("t/x", bytes(100, 3));
    await s.put("t/x", bytes(100, 4), { ifNoneMatch: true }).catch(() => {});
    expect(await readdir(join(s.root, "t"))).toEqual(["x"]);
    // As after a crash: one old temp file, one that could belong to a put in flight.
    await writeFile(join(s.root, "t", ".x.00112233deadbeef.tmp"), "partial");
    await writeFile(join(s.root, "t", ".x.ffeeddcc00112233.tmp"), "in flight");
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(join(s.root, "t", ".x.00112233deadbeef.tmp"), hourAgo, hourAgo);
    expect(await listKeys(s, "")).toEqual(["t/x"]);
    expect(await s.removeStaleTempFiles()).toBe(1);
    expect((await readdir(join(s.root, "t"))).sort()).toEqual([".x.ffeeddcc00112233.tmp", "x"]);
    // A second old, so "older than 0 ms" holds whatever the clocks' granularity (file times are
    // finer than Date.now(): one written this millisecond can look newer than the cutoff).
    const secondAgo = new Date(Date.now() - 1000);
    await utimes(join(s.root, "t", ".x.ffeeddcc00112233.tmp"), secondAgo, secondAgo);
    expect(await s.removeStaleTempFiles(0)).toBe(1);
    expect(await readdir(join(s.root, "t"))).toEqual(["x"]);
  });

  test("delete prunes empty directories, racing puts still land", async () => {
    const s = await open();
    await s.put("p/q/r/obj", bytes(5, 5));
    await s.delete("p/q/r/obj");
    expect(await readdir(s.root)).toEqual([]);
    // Deletes pruning the directory while puts recreate it: every put must land.
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await s.put(`race/dir/k${i}`, bytes(10, i));
        await s.delete(`race/dir/k${i}`);
      }),
    );
    expect(await listKeys(s, "")).toEqual([]);
    const kept = Array.from({ length: 20 }, (_, i) => `race/dir/keep${i}`);
    await Promise.all(kept.map((k, i) => (i % 2 ? s.put(k, bytes(10, i)) : s.put(`race/dir/tmp${i}`, bytes(1, i)).then(() => s.delete(`race/dir/tmp${i}`)).then(() => s.put(k, bytes(10, i))))));
    expect(await listKeys(s, "race/")).toEqual([...kept].sort());
    for (const [i, k] of kept.entries()) expect(same(await s.get(k), bytes(10, i))).toBe(true);
  });

  test("etag follows the file: same across head and list, new on overwrite with equal bytes", async () => {
    const s = await open();
    const a = await s.put("e", bytes(64, 6));
    const b = await s.put("e", bytes(64, 6));
    expect(b.etag).not.toBe(a.etag);
    expect((await s.head("e"))?.etag).toBe(b.etag);
  });
});
