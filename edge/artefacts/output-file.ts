// The file a pull writes: a temporary file beside OUT (same directory, so the rename is atomic),
// written at chunk offsets, fsynced, then renamed over OUT and the directory fsynced. OUT is
// therefore either absent, its old content, or the whole new artefact, never a torn mix.
// Temporary files left by a pull that died (its pid is gone) are removed by the next pull.
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { type FileHandle, open, rename } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { StrataError } from "../../core/errors.ts";

const TMP_MARK = ".strata-tmp-";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Removes `.NAME.strata-tmp-PID-N` files beside `out` whose process is gone. */
function sweepStale(dir: string, name: string): void {
  const prefix = `.${name}${TMP_MARK}`;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split("-")[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && !processAlive(pid)) rmSync(join(dir, entry), { force: true });
  }
}

let counter = 0;

/**
 * Where a pull into `out` writes: `out` itself, or when it names a directory (an existing one,
 * or any path ending in "/") the file `name` inside it.
 */
export function outputPath(out: string, name: string): string {
  const directory = /[/\\]$/.test(out) || (existsSync(out) && statSync(out).isDirectory());
  return directory ? join(out, name) : out;
}

export class OutputFile {
  readonly path: string;
  readonly tmpPath: string;
  readonly size: number;
  #file: FileHandle | null;

  private constructor(path: string, tmpPath: string, file: FileHandle, size: number) {
    this.path = path;
    this.tmpPath = tmpPath;
    this.#file = file;
    this.size = size;
  }

  /** Creates the temporary file for `out`, `size` bytes long. */
  static async create(out: string, size: number): Promise<OutputFile> {
    const path = resolve(out);
    const dir = dirname(path);
    const name = basename(path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new StrataError("BAD_REQUEST", `the directory of ${out} does not exist`);
    if (existsSync(path) && statSync(path).isDirectory()) throw new StrataError("BAD_REQUEST", `${out} is a directory; give a file name`);
    sweepStale(dir, name);
    const tmpPath = join(dir, `.${name}${TMP_MARK}${process.pid}-${counter++}`);
    const file = await open(tmpPath, "wx", 0o644);
    try {
      await file.truncate(size);
    } catch (e) {
      await file.close();
      rmSync(tmpPath, { force: true });
      throw e;
    }
    return new OutputFile(path, tmpPath, file, size);
  }

  #open(): FileHandle {
    if (this.#file === null) throw new StrataError("INTERNAL", "output file already closed");
    return this.#file;
  }

  /** Writes `bytes` at `position` (concurrent writes to distinct ranges are fine). */
  async write(bytes: Uint8Array, position: number): Promise<void> {
    if (position < 0 || position + bytes.length > this.size) {
      throw new StrataError("INTERNAL", `write of ${bytes.length} bytes at ${position} outside the ${this.size}-byte artefact`);
    }
    const file = this.#open();
    let off = 0;
    while (off < bytes.length) off += (await file.write(bytes, off, bytes.length - off, position + off)).bytesWritten;
  }

  /** fsyncs and renames the temporary file over OUT, then fsyncs the directory. */
  async commit(): Promise<void> {
    const file = this.#open();
    await file.sync();
    await file.close();
    this.#file = null;
    await rename(this.tmpPath, this.path);
    try {
      const dirFd = openSync(dirname(this.path), "r");
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch {
      // some file systems refuse fsync on a directory; the rename itself is done
    }
  }

  /** Closes and deletes the temporary file (after a failure). */
  async discard(): Promise<void> {
    if (this.#file !== null) {
      await this.#file.close().catch(() => undefined);
      this.#file = null;
    }
    rmSync(this.tmpPath, { force: true });
  }
}
