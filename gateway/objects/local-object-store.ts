// ObjectStore on a local directory: the embedded default (`<data>/objects`).
//
// - A key maps to a file: "streams/s/0/x.seg" → <root>/streams/s/0/x.seg. Keys are validated
//   (object-key.ts) and the resolved path is checked to stay under the root.
// - put is atomic and durable: write a temp file in the target directory, fsync it, rename it
//   over the key (link it for ifNoneMatch, which fails atomically on an existing key), then
//   fsync the directory. Temp files start with "." (never a valid key segment) and list skips them.
// - etag is derived from the file's identity, not its content: inode, mtime (µs) and size, in
//   hex. A replaced object gets a new inode (the temp file), so its etag changes; hashing
//   content would cost a full read on head and list.
// - putFile hard-links the source file into place (link to a temp name, fsync the file, rename
//   over the key, fsync the directory): the bytes are not written again. Across file systems, or
//   where links are refused, it copies like put. The object then shares the source's inode, so
//   the caller must never modify the source afterwards (renaming or deleting it is fine).
// - delete removes empty parent directories (a racing put recreates them and retries).
// - A directory store cannot hold both "a" and "a/b" (a file and a directory of one name);
//   such a put is a BAD_REQUEST. S3 allows it; Strata's key layouts never need it.

import { constants, type Dirent } from "node:fs";
import { link, mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { StrataError, isStrataError } from "../../core/errors.ts";
import { mapLimit } from "../../core/util/concurrency.ts";
import { uninitialized } from "../../core/util/buffers.ts";
import { errnoCode, errorText } from "./errno.ts";
import { validateObjectKey, validateObjectPrefix } from "./object-key.ts";
import { checkRangeWithin, validateRange } from "./object-range.ts";
import type { ByteRange, MultipartOptions, ObjectInfo, ObjectStore, PutOptions } from "./object-store.ts";

const DELETE_CONCURRENCY = 16;
/** Names of temp files (see writeAtomically): ".<name>.<16 hex>.tmp". */
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;
/** Attempts for a put racing a delete that prunes the directory it is writing into. */
const PUT_ATTEMPTS = 5;

interface FileStat {
  ino: number;
  size: number;
  mtimeMs: number;
}

export class LocalObjectStore implements ObjectStore {
  readonly description: string;
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
    this.description = `dir:${root}`;
  }

  /** Open (creating if needed) a store rooted at `dir`. */
  static async open(dir: string): Promise<LocalObjectStore> {
    const root = resolve(dir);
    try {
      await mkdir(root, { recursive: true });
    } catch (e) {
      throw storageError(`cannot create object directory ${root}`, e);
    }
    return new LocalObjectStore(root);
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    return this.writeAtomically(key, path, opts?.ifNoneMatch === true, async (fh) => {
      await writeAll(fh, body);
    });
  }

  async putMultipart(key: string, parts: AsyncIterable<Uint8Array>, opts?: MultipartOptions): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    if (opts?.partSize !== undefined && (!Number.isSafeInteger(opts.partSize) || opts.partSize < 1)) {
      throw new StrataError("BAD_REQUEST", `bad partSize ${opts.partSize}`);
    }
    // The stream can be consumed once only, so no retry: a racing prune fails this put cleanly.
    return this.writeAtomically(key, path, false, async (fh) => {
      for await (const chunk of parts) await writeAll(fh, chunk);
    }, 1);
  }

  async putFile(key: string, source: string, opts?: MultipartOptions): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    if (opts?.partSize !== undefined && (!Number.isSafeInteger(opts.partSize) || opts.partSize < 1)) {
      throw new StrataError("BAD_REQUEST", `bad partSize ${opts.partSize}`);
    }
    let src: FileHandle;
    try {
      src = await open(source, constants.O_RDONLY);
    } catch (e) {
      throw storageError(`cannot read source file ${source} for ${key}`, e);
    }
    try {
      // Make the source's own bytes durable before the object names them (cheap if already synced).
      try {
        await src.sync();
      } catch (e) {
        throw storageError(`cannot fsync source file ${source} for ${key}`, e);
      }
      return await this.writeAtomically(key, path, false, async (fh) => {
        await copyInto(src, fh);
      }, PUT_ATTEMPTS, source);
    } finally {
      await src.close();
    }
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const path = this.pathOf(key);
    if (range) validateRange(key, range);
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY);
    } catch (e) {
      if (isMissing(e) || errnoCode(e) === "EISDIR") throw notFound(key);
      throw storageError(`cannot open ${key}`, e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound(key);
      const offset = range?.offset ?? 0;
      const length = range?.length ?? st.size;
      if (range) checkRangeWithin(key, range, st.size);
      const out = uninitialized(length); // wholly overwritten below, or an error
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new StrataError("STORAGE_ERROR", `${key} shrank while being read`);
        done += bytesRead;
      }
      return out;
    } catch (e) {
      if (isStrataError(e)) throw e;
      if (errnoCode(e) === "EISDIR") throw notFound(key);
      throw storageError(`cannot read ${key}`, e);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    try {
      const st = await stat(path);
      return st.isFile() ? info(key, st) : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw storageError(`cannot stat ${key}`, e);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validateObjectPrefix(prefix);
    // Start at the deepest directory the prefix names fully; filter the rest by string prefix.
    const slash = prefix.lastIndexOf("/");
    const startRel = slash < 0 ? "" : prefix.slice(0, slash + 1);
    yield* this.walk(startRel, prefix);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.deletePath(key, path);
  }

  async deleteMany(keys: string[]): Promise<void> {
    // Validate every key before deleting any.
    const paths = keys.map((k) => this.pathOf(k));
    await mapLimit(paths, DELETE_CONCURRENCY, (p, i) => this.deletePath(keys[i]!, p));
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  /**
   * Remove temp files that a crashed put left behind, if older than `olderThanMs` (so puts in
   * flight in this or another process are not touched). Returns how many were removed.
   */
  async removeStaleTempFiles(olderThanMs = 60 * 60 * 1000): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
        if (isMissing(e)) return [];
        throw storageError(`cannot list ${dir}`, e);
      });
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) await visit(path);
        else if (e.isFile() && TEMP_FILE.test(e.name)) {
          const st = await stat(path).catch(() => undefined);
          if (st && st.mtimeMs < cutoff && (await unlink(path).then(() => true, () => false))) removed++;
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  private pathOf(key: string): string {
    validateObjectKey(key);
    const path = join(this.root, ...key.split("/"));
    // Defence in depth: validation already rules out "..", absolute paths and separators.
    if (!path.startsWith(this.root + sep)) throw new StrataError("BAD_REQUEST", `object key ${JSON.stringify(key)} escapes the store`);
    return path;
  }

  private async writeAtomically(
    key: string,
    path: string,
    createOnly: boolean,
    write: (fh: FileHandle) => Promise<void>,
    attempts = PUT_ATTEMPTS,
    /** Hard-link this (synced) file as the temp file instead of writing one; `write` copies where links fail. */
    linkFrom?: string,
  ): Promise<ObjectInfo> {
    const dir = dirname(path);
    const base = path.slice(dir.length + 1);
    for (let attempt = 1; ; attempt++) {
      await this.ensureDir(key, dir);
      const tmp = join(dir, `.${base}.${randomHex()}.tmp`);
      if (linkFrom !== undefined) {
        let linked: FileStat | undefined;
        try {
          linked = await linkTemp(linkFrom, tmp);
        } catch (e) {
          if (errnoCode(e) === "ENOENT" && attempt < attempts) continue; // directory pruned by a racing delete
          throw storageError(`cannot link ${linkFrom} as ${key}`, e);
        }
        if (linked) {
          try {
            await rename(tmp, path);
            // rename() between two links of one inode does nothing: drop the temp name then.
            await unlink(tmp).catch(() => {});
          } catch (e) {
            await unlink(tmp).catch(() => {});
            if (errnoCode(e) === "ENOENT" && attempt < attempts) continue;
            if (errnoCode(e) === "EISDIR" || errnoCode(e) === "ENOTEMPTY" || errnoCode(e) === "EEXIST") {
              throw new StrataError("BAD_REQUEST", `object key ${key} conflicts with existing keys under ${key}/`);
            }
            throw storageError(`cannot write ${key}`, e);
          }
          await fsyncDir(dir);
          return info(key, linked);
        }
        // No hard link here (another file system, or links refused): copy below.
      }
      let fh: FileHandle;
      try {
        fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      } catch (e) {
        // A concurrent delete pruned the (empty) directory between mkdir and open: go again.
        if (errnoCode(e) === "ENOENT" && attempt < attempts) continue;
        throw storageError(`cannot create a temp file for ${key}`, e);
      }
      let st: FileStat;
      try {
        try {
          await write(fh);
          await fh.sync();
          st = await fh.stat();
        } finally {
          await fh.close();
        }
        if (createOnly) await linkCreateOnly(key, tmp, path);
        else await rename(tmp, path);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        // Not a file-system error (a StrataError, or the caller's chunk source failing): pass it on.
        if (isStrataError(e) || errnoCode(e) === undefined) throw e;
        if (errnoCode(e) === "EISDIR" || errnoCode(e) === "ENOTEMPTY" || errnoCode(e) === "EEXIST") {
          throw new StrataError("BAD_REQUEST", `object key ${key} conflicts with existing keys under ${key}/`);
        }
        throw storageError(`cannot write ${key}`, e);
      }
      await fsyncDir(dir);
      return info(key, st);
    }
  }

  /** mkdir -p, then fsync the parent of every directory it created so the new entries are durable. */
  private async ensureDir(key: string, dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (e) {
      if (errnoCode(e) === "ENOTDIR" || errnoCode(e) === "EEXIST") {
        throw new StrataError("BAD_REQUEST", `object key ${key} conflicts with an existing key that is a prefix of it`);
      }
      throw storageError(`cannot create directory for ${key}`, e);
    }
    if (first === undefined) return;
    for (let d = dir; d.length >= first.length; d = dirname(d)) await fsyncDir(dirname(d));
  }

  private async deletePath(key: string, path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (e) {
      const code = errnoCode(e);
      // Missing, or a directory (which is not an object): nothing to delete.
      if (isMissing(e) || code === "EISDIR" || code === "EPERM") return;
      throw storageError(`cannot delete ${key}`, e);
    }
    // Prune now-empty parents up to (not including) the root; stop at the first non-empty one.
    for (let d = dirname(path); d.length > this.root.length; d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        break;
      }
    }
  }

  private async *walk(dirRel: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, ...dirRel.split("/").filter(Boolean)), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw storageError(`cannot list ${dirRel || "/"}`, e);
    }
    // Sort as full keys sort: a directory "a" holds keys "a/…", which sort after "a-x" and "a.x".
    const named = entries
      .filter((e) => !e.name.startsWith(".") && (e.isFile() || e.isDirectory()))
      .map((e) => ({ entry: e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { entry } of named) {
      const key = dirRel + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) yield* this.walk(sub, prefix);
      } else if (key.startsWith(prefix)) {
        try {
          const st = await stat(join(this.root, ...key.split("/")));
          if (st.isFile()) yield info(key, st);
        } catch (e) {
          if (!isMissing(e)) throw storageError(`cannot stat ${key}`, e);
        }
      }
    }
  }
}

/**
 * link(2) `source` to `tmp`; the stat of the linked file, or undefined where this file system
 * cannot link it (the caller copies instead).
 */
async function linkTemp(source: string, tmp: string): Promise<FileStat | undefined> {
  try {
    await link(source, tmp);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "EXDEV" || code === "EPERM" || code === "EMLINK" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") return undefined;
    throw e;
  }
  try {
    return await stat(tmp);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

const COPY_CHUNK = 1 << 20;

async function copyInto(src: FileHandle, dst: FileHandle): Promise<void> {
  const buf = new Uint8Array(COPY_CHUNK);
  for (let pos = 0; ; ) {
    const { bytesRead } = await src.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    await writeAll(dst, buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/** Publish tmp at path only if path does not exist: link(2) fails atomically with EEXIST. */
async function linkCreateOnly(key: string, tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoCode(e) === "EEXIST") {
      const st = await stat(path).catch(() => undefined);
      if (st?.isDirectory()) throw new StrataError("BAD_REQUEST", `object key ${key} conflicts with existing keys under ${key}/`);
      throw new StrataError("OBJECT_EXISTS", `object ${key} already exists`);
    }
    throw e;
  }
  await unlink(tmp);
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (e) {
    // Some file systems refuse fsync on directories (EINVAL/EISDIR/EPERM); the data file itself is synced.
    const code = errnoCode(e);
    // ENOENT: a racing delete pruned it, so there is nothing left to make durable.
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM" && code !== "EBADF" && code !== "ENOENT") throw storageError(`cannot fsync ${dir}`, e);
  } finally {
    await fh?.close();
  }
}

function info(key: string, st: FileStat): ObjectInfo {
  const micros = Math.round(st.mtimeMs * 1000);
  return { key, size: st.size, etag: `${st.ino.toString(16)}-${micros.toString(16)}-${st.size.toString(16)}` };
}

function randomHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function isMissing(e: unknown): boolean {
  const code = errnoCode(e);
  return code === "ENOENT" || code === "ENOTDIR";
}

function notFound(key: string): StrataError {
  return new StrataError("NOT_FOUND", `object ${key} not found`);
}

/** A file-system failure of the store; a full disk is INSUFFICIENT_STORAGE (507: retry once space is freed). */
function storageError(message: string, cause: unknown): StrataError {
  return new StrataError(errnoCode(cause) === "ENOSPC" ? "INSUFFICIENT_STORAGE" : "STORAGE_ERROR", `${message}: ${errorText(cause)}`, { cause });
}
