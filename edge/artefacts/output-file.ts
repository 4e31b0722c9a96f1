// The file a pull writes: a temporary file beside OUT (same directory, so the rename is atomic),
// written at chunk offsets, fsynced, then renamed over OUT and the directory fsynced. OUT is
// therefore either absent, its old content, or the whole new artefact, never a torn mix.
// Temporary files left by a pull that died (its pid is gone) are removed by the next pull.
import { closeSync, fsyncSync, ftruncateSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
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

export class OutputFile {
  readonly path: string;
  readonly tmpPath: string;
  readonly size: number;
  #fd: number | null;

  private constructor(path: string, tmpPath: string, fd: number, size: number) {
    this.path = path;
    this.tmpPath = tmpPath;
    this.#fd = fd;
    this.size = size;
  }

  /** Creates the temporary file for `out`, `size` bytes long. */
  static create(out: string, size: number): OutputFile {
    const path = resolve(out);
    const dir = dirname(path);
    const name = basename(path);
    sweepStale(dir, name);
    const tmpPath = join(dir, `.${name}${TMP_MARK}${process.pid}-${counter++}`);
    const fd = openSync(tmpPath, "wx", 0o644);
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      closeSync(fd);
      rmSync(tmpPath, { force: true });
      throw e;
    }
    return new OutputFile(path, tmpPath, fd, size);
  }

  #open(): number {
    if (this.#fd === null) throw new StrataError("INTERNAL", "output file already closed");
    return this.#fd;
  }

  /** Writes `bytes` at `position`. */
  write(bytes: Uint8Array, position: number): void {
    if (position < 0 || position + bytes.length > this.size) {
      throw new StrataError("INTERNAL", `write of ${bytes.length} bytes at ${position} outside the ${this.size}-byte artefact`);
    }
    const fd = this.#open();
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
  }

  /** fsyncs and renames the temporary file over OUT, then fsyncs the directory. */
  commit(): void {
    const fd = this.#open();
    fsyncSync(fd);
    closeSync(fd);
    this.#fd = null;
    renameSync(this.tmpPath, this.path);
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
  discard(): void {
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
    rmSync(this.tmpPath, { force: true });
  }
}
