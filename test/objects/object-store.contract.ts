// The ObjectStore contract: one suite, run against every implementation
// (object-store-local.test.ts, object-store-s3.test.ts). `open` must return a store over a
// fresh, empty namespace each time it is called; the suite closes what it opens.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StrataError, type ErrorCode } from "../../core/errors.ts";
import { MAX_OBJECT_KEY_LENGTH } from "../../gateway/objects/object-key.ts";
import type { MultipartOptions, ObjectInfo, ObjectStore } from "../../gateway/objects/object-store.ts";

const MiB = 1024 * 1024;
const SLOW = 120_000;

export function objectStoreContract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    const opened: ObjectStore[] = [];
    const fresh = async (): Promise<ObjectStore> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    let sourceDir: string | undefined;
    let sourceCount = 0;
    /** A local file holding `body`, for putFile. */
    const sourceFile = async (body: Uint8Array): Promise<string> => {
      sourceDir ??= await mkdtemp(join(tmpdir(), "strata-putfile-"));
      const path = join(sourceDir, `source-${sourceCount++}`);
      await writeFile(path, body);
      return path;
    };
    afterAll(async () => {
      if (sourceDir) await rm(sourceDir, { recursive: true, force: true });
    });

    test("put, get and head round trip", async () => {
      const s = await fresh();
      const body = bytes(1000, 1);
      const info = await s.put("streams/a/0/00000000000000000000.seg", body);
      expect(info).toMatchObject({ key: "streams/a/0/00000000000000000000.seg", size: 1000 });
      expect(info.etag.length).toBeGreaterThan(0);
      expect(same(await s.get(info.key), body)).toBe(true);
      expect(await s.head(info.key)).toEqual(info);
      expect(s.description.length).toBeGreaterThan(0);
    });

    test("missing keys: get is NOT_FOUND, head is undefined", async () => {
      const s = await fresh();
      await expectCode(s.get("nope"), "NOT_FOUND");
      await expectCode(s.get("no/such/key", { offset: 0, length: 1 }), "NOT_FOUND");
      await expectCode(s.get("no/such/key", { offset: 0, length: 0 }), "NOT_FOUND");
      expect(await s.head("nope")).toBeUndefined();
      expect(await s.head("no/such/key")).toBeUndefined();
    });

    test("ranged get: start, middle, end, zero-length, past the end", async () => {
      const s = await fresh();
      const body = bytes(10_000, 2);
      await s.put("r", body);
      const slice = async (offset: number, length: number) => s.get("r", { offset, length });
      expect(same(await slice(0, 100), body.subarray(0, 100))).toBe(true);
      expect(same(await slice(4321, 1234), body.subarray(4321, 5555))).toBe(true);
      expect(same(await slice(9_900, 100), body.subarray(9_900))).toBe(true);
      expect(same(await slice(0, 10_000), body)).toBe(true);
      expect(same(await slice(9_999, 1), body.subarray(9_999))).toBe(true);
      for (const offset of [0, 5000, 10_000]) expect((await slice(offset, 0)).length).toBe(0);
      await expectCode(slice(9_990, 11), "OFFSET_OUT_OF_RANGE");
      await expectCode(slice(10_000, 1), "OFFSET_OUT_OF_RANGE");
      await expectCode(slice(20_000, 5), "OFFSET_OUT_OF_RANGE");
      await expectCode(slice(10_001, 0), "OFFSET_OUT_OF_RANGE");
      await expectCode(slice(-1, 5), "BAD_REQUEST");
      await expectCode(slice(0, -5), "BAD_REQUEST");
      await expectCode(slice(1.5, 5), "BAD_REQUEST");
    });

    test("empty objects", async () => {
      const s = await fresh();
      const info = await s.put("empty", new Uint8Array(0));
      expect(info.size).toBe(0);
      expect((await s.get("empty")).length).toBe(0);
      expect((await s.get("empty", { offset: 0, length: 0 })).length).toBe(0);
      await expectCode(s.get("empty", { offset: 0, length: 1 }), "OFFSET_OUT_OF_RANGE");
      expect((await s.head("empty"))?.size).toBe(0);
    });

    test("a view into a larger buffer stores only the view", async () => {
      const s = await fresh();
      const backing = bytes(1000, 3);
      const view = backing.subarray(100, 350);
      expect((await s.put("view", view)).size).toBe(250);
      expect(same(await s.get("view"), view)).toBe(true);
    });

    test("list: prefixes, lexicographic order, sizes and etags", async () => {
      const s = await fresh();
      // "-" < "." < "/" < "0" < "b": keys in a "directory" sort between names sharing its prefix.
      const keys = ["a/b", "a/c/d", "a-x", "a.y", "ab", "a0", "b", "a/c/e/f", "a/c0", "z/z/z"];
      const infos = new Map<string, ObjectInfo>();
      for (const [i, k] of keys.entries()) infos.set(k, await s.put(k, bytes(i + 1, i)));
      const sorted = [...keys].sort();
      expect(await listKeys(s, "")).toEqual(sorted);
      expect(await listKeys(s, "a")).toEqual(sorted.filter((k) => k.startsWith("a")));
      expect(await listKeys(s, "a/")).toEqual(["a/b", "a/c/d", "a/c/e/f", "a/c0"]);
      expect(await listKeys(s, "a/c")).toEqual(["a/c/d", "a/c/e/f", "a/c0"]);
      expect(await listKeys(s, "a/c/")).toEqual(["a/c/d", "a/c/e/f"]);
      expect(await listKeys(s, "a/c/e/f")).toEqual(["a/c/e/f"]);
      expect(await listKeys(s, "zz")).toEqual([]);
      expect(await listKeys(s, "q/")).toEqual([]);
      for await (const o of s.list("")) expect(o).toEqual(infos.get(o.key)!);
    });

    test(
      "list pages through more than 1000 keys; deleteMany takes more than 1000",
      async () => {
        const s = await fresh();
        const keys = Array.from({ length: 1234 }, (_, i) => `many/${String((i * 7919) % 1234).padStart(5, "0")}`);
        await inParallel(keys, 32, (k) => s.put(k, new Uint8Array([1, 2, 3])));
        const listed = await listKeys(s, "many/");
        expect(listed.length).toBe(1234);
        expect(listed).toEqual([...keys].sort());
        await s.deleteMany(keys);
        expect(await listKeys(s, "")).toEqual([]);
      },
      SLOW,
    );

    test("delete is idempotent", async () => {
      const s = await fresh();
      await s.put("d/x", bytes(10, 4));
      await s.delete("d/x");
      await expectCode(s.get("d/x"), "NOT_FOUND");
      expect(await s.head("d/x")).toBeUndefined();
      await s.delete("d/x");
      await s.delete("never/was");
      expect(await listKeys(s, "")).toEqual([]);
    });

    test("deleteMany removes existing keys, ignores missing ones, validates all first", async () => {
      const s = await fresh();
      for (const k of ["m/1", "m/2", "m/3", "keep"]) await s.put(k, bytes(5, 5));
      await s.deleteMany(["m/1", "m/3", "m/404"]);
      expect(await listKeys(s, "")).toEqual(["keep", "m/2"]);
      await expectCode(s.deleteMany(["m/2", "../keep"]), "BAD_REQUEST");
      expect(await listKeys(s, "")).toEqual(["keep", "m/2"]);
      await s.deleteMany([]);
    });

    test("putFile stores a file's bytes; the object outlives the source file", async () => {
      const s = await fresh();
      const putFile = putFileOf(s);
      const body = bytes(3000, 11);
      const path = await sourceFile(body);
      const info = await putFile("streams/f/0/00000000000000000000.seg", path);
      expect(info).toMatchObject({ key: "streams/f/0/00000000000000000000.seg", size: 3000 });
      expect(await s.head(info.key)).toEqual(info);
      expect(same(await s.get(info.key), body)).toBe(true);
      expect(same(await s.get(info.key, { offset: 1000, length: 5 }), body.subarray(1000, 1005))).toBe(true);
      // The same file again (a retried upload) is fine and leaves one object.
      await putFile(info.key, path);
      expect(await listKeys(s, "")).toEqual([info.key]);
      await unlink(path);
      expect(same(await s.get(info.key), body)).toBe(true);
      // Replacing with another file.
      const other = bytes(10, 12);
      const replaced = await putFile(info.key, await sourceFile(other));
      expect(replaced.size).toBe(10);
      expect(same(await s.get(info.key), other)).toBe(true);
      // An empty file.
      expect((await putFile("empty-file", await sourceFile(new Uint8Array(0)))).size).toBe(0);
      expect((await s.get("empty-file")).length).toBe(0);
    });

    test("putFile: a missing source is STORAGE_ERROR, a bad key BAD_REQUEST; nothing is written", async () => {
      const s = await fresh();
      const putFile = putFileOf(s);
      await expectCode(putFile("k", join(tmpdir(), `strata-no-such-file-${crypto.randomUUID()}`)), "STORAGE_ERROR");
      await expectCode(putFile("../k", await sourceFile(bytes(10, 13))), "BAD_REQUEST");
      expect(await listKeys(s, "")).toEqual([]);
    });

    test(
      "putFile of a file larger than a multipart part, with the default and a given part size",
      async () => {
        const s = await fresh();
        const body = bytes(12 * MiB + 12345, 14);
        const path = await sourceFile(body);
        const info = await putFileOf(s)("big/file", path);
        expect(info.size).toBe(body.length);
        expect(same(await s.get("big/file"), body)).toBe(true);
        expect((await putFileOf(s)("big/parts", path, { partSize: 5 * MiB })).size).toBe(body.length);
        expect(same(await s.get("big/parts"), body)).toBe(true);
        await expectCode(putFileOf(s)("big/bad", path, { partSize: 0 }), "BAD_REQUEST");
      },
      SLOW,
    );

    test("conditional put (ifNoneMatch) creates only", async () => {
      const s = await fresh();
      const first = bytes(100, 6);
      await s.put("c", first, { ifNoneMatch: true });
      await expectCode(s.put("c", bytes(50, 7), { ifNoneMatch: true }), "OBJECT_EXISTS");
      expect(same(await s.get("c"), first)).toBe(true);
      await s.delete("c");
      await s.put("c", bytes(50, 7), { ifNoneMatch: true });
      expect((await s.head("c"))?.size).toBe(50);
    });

    test("racing conditional puts: exactly one wins", async () => {
      const s = await fresh();
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => s.put("race", bytes(1000 + i, i), { ifNoneMatch: true })),
      );
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won.length).toBe(1);
      for (const r of results) if (r.status === "rejected") expect((r.reason as StrataError).code).toBe("OBJECT_EXISTS");
      expect((await s.head("race"))?.size).toBe(1000 + won[0]!);
    });

    test(
      "multipart upload of ~20 MiB reads back byte for byte",
      async () => {
        const s = await fresh();
        const body = bytes(20 * MiB + 12_345, 8);
        const info = await s.putMultipart("packs/big.pack", chunked(body, [1 * MiB + 17, 333, 3 * MiB]), { partSize: 5 * MiB });
        expect(info.size).toBe(body.length);
        expect(info.etag.length).toBeGreaterThan(0);
        expect(await s.head("packs/big.pack")).toEqual(info);
        expect(same(await s.get("packs/big.pack"), body)).toBe(true);
        // across the first part boundary, and the tail
        const at = 5 * MiB - 100;
        expect(same(await s.get("packs/big.pack", { offset: at, length: 200 }), body.subarray(at, at + 200))).toBe(true);
        expect(same(await s.get("packs/big.pack", { offset: body.length - 10, length: 10 }), body.subarray(-10))).toBe(true);
      },
      SLOW,
    );

    test("multipart: small and empty bodies", async () => {
      const s = await fresh();
      const small = bytes(70_000, 9);
      expect((await s.putMultipart("small", chunked(small, [1000, 7]))).size).toBe(70_000);
      expect(same(await s.get("small"), small)).toBe(true);
      expect((await s.putMultipart("none", chunked(new Uint8Array(0), [1]))).size).toBe(0);
      expect((await s.get("none")).length).toBe(0);
    });

    test(
      "multipart: a failing source leaves no object, and the key is invisible until done",
      async () => {
        const s = await fresh();
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield bytes(6 * MiB, 10);
          yield bytes(6 * MiB, 11);
          throw new Error("source broke");
        }
        await expect(s.putMultipart("broken", failing(), { partSize: 5 * MiB })).rejects.toThrow("source broke");
        expect(await s.head("broken")).toBeUndefined();
        expect(await listKeys(s, "")).toEqual([]);

        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        async function* gated(): AsyncGenerator<Uint8Array> {
          yield bytes(6 * MiB, 12);
          await gate;
          yield bytes(1000, 13);
        }
        const upload = s.putMultipart("gated", gated(), { partSize: 5 * MiB });
        await new Promise((r) => setTimeout(r, 100));
        expect(await s.head("gated")).toBeUndefined();
        expect(await listKeys(s, "")).toEqual([]);
        release();
        expect((await upload).size).toBe(6 * MiB + 1000);
        expect(await listKeys(s, "")).toEqual(["gated"]);
      },
      SLOW,
    );

    test("bad keys are rejected with BAD_REQUEST and nothing is written", async () => {
      const s = await fresh();
      const bad = [
        "../x", "a/../../x", "..", ".", "a/./b", "a//b", "/x", "x/", "", " ", "a b", "a\\b", "a\u0000b",
        ".hidden", "a/.tmp", "x".repeat(MAX_OBJECT_KEY_LENGTH + 1), "y".repeat(300), "ü", "a?b", "a#b", "%2e%2e/x",
      ];
      for (const key of bad) {
        await expectCode(s.put(key, bytes(3, 1)), "BAD_REQUEST", key);
        await expectCode(s.put(key, bytes(3, 1), { ifNoneMatch: true }), "BAD_REQUEST", key);
        await expectCode(s.putMultipart(key, chunked(bytes(3, 1), [1])), "BAD_REQUEST", key);
        await expectCode(s.get(key), "BAD_REQUEST", key);
        await expectCode(s.get(key, { offset: 0, length: 1 }), "BAD_REQUEST", key);
        await expectCode(s.head(key), "BAD_REQUEST", key);
        await expectCode(s.delete(key), "BAD_REQUEST", key);
        await expectCode(s.deleteMany([key]), "BAD_REQUEST", key);
      }
      for (const prefix of ["../", "/", "a//", ".x"]) await expectCode(listKeys(s, prefix), "BAD_REQUEST", prefix);
      expect(await listKeys(s, "")).toEqual([]);
    });

    test("the longest valid key and every allowed character work", async () => {
      const s = await fresh();
      const seg = "k".repeat(200);
      const longest = `${seg}/${seg}/${"v".repeat(MAX_OBJECT_KEY_LENGTH - 402)}`;
      expect(longest.length).toBe(MAX_OBJECT_KEY_LENGTH);
      const odd = "Az09/a=b+c@d,e~f_g-h.i/x.y.z";
      await s.put(longest, bytes(7, 14));
      await s.put(odd, bytes(8, 15));
      expect((await s.get(longest)).length).toBe(7);
      expect(same(await s.get(odd), bytes(8, 15))).toBe(true);
      expect(await listKeys(s, "")).toEqual([odd, longest].sort());
    });

    test("concurrent puts of different keys", async () => {
      const s = await fresh();
      const keys = Array.from({ length: 64 }, (_, i) => `conc/${i % 4}/k${i}`);
      await Promise.all(keys.map((k, i) => s.put(k, bytes(100 + i, i))));
      expect(await listKeys(s, "conc/")).toEqual([...keys].sort());
      for (const [i, k] of keys.entries()) expect(same(await s.get(k), bytes(100 + i, i))).toBe(true);
    });

    test("overwrite replaces content, size and etag", async () => {
      const s = await fresh();
      const a = await s.put("o", bytes(1000, 16));
      const b = await s.put("o", bytes(1000, 17));
      expect(b.etag).not.toBe(a.etag);
      expect(same(await s.get("o"), bytes(1000, 17))).toBe(true);
      const c = await s.put("o", bytes(10, 18));
      expect(await s.head("o")).toEqual(c);
      expect(same(await s.get("o"), bytes(10, 18))).toBe(true);
      expect(await listKeys(s, "")).toEqual(["o"]);
    });

    test(
      "readers racing overwrites see a whole old or whole new object",
      async () => {
        const s = await fresh();
        const versions = [bytes(256 * 1024, 19), bytes(300 * 1024, 20)];
        await s.put("flip", versions[0]!);
        let writing = true;
        const writer = (async () => {
          for (let i = 1; i <= 20; i++) await s.put("flip", versions[i % 2]!);
          writing = false;
        })();
        let reads = 0;
        const reader = async (): Promise<void> => {
          while (writing) {
            const got = await s.get("flip");
            expect(same(got, versions[0]!) || same(got, versions[1]!)).toBe(true);
            reads++;
          }
        };
        await Promise.all([writer, reader(), reader()]);
        expect(reads).toBeGreaterThan(0);
      },
      SLOW,
    );
  });
}

/** Deterministic pseudo-random bytes (xorshift32), different per seed. */
export function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  const words = Math.floor(length / 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    view.setUint32(i * 4, x, true);
  }
  for (let i = words * 4; i < length; i++) out[i] = (x >>> ((i % 4) * 8)) & 0xff;
  return out;
}

/** Yield `body` in chunks whose sizes cycle through `sizes`. */
export async function* chunked(body: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < body.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield body.subarray(off, off + n);
    off += n;
  }
}

function putFileOf(s: ObjectStore): (key: string, path: string, opts?: MultipartOptions) => Promise<ObjectInfo> {
  const f = s.putFile;
  if (!f) throw new Error("this store has no putFile");
  return f.bind(s);
}

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export async function listKeys(s: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of s.list(prefix)) keys.push(o.key);
  return keys;
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode, what = ""): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  if (!(error instanceof StrataError) || error.code !== code) {
    throw new Error(`expected StrataError ${code}${what ? ` for ${JSON.stringify(what)}` : ""}, got ${error === undefined ? "success" : String(error)}`);
  }
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
