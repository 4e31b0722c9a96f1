// A small real file system (tmpfs) to fill up in tests of a full disk. Needs root to mount: the
// mount reports why it could not, and the test skips with that message.
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../../gateway/objects/errno.ts";
import { tempDir } from "./gateway.ts";

export interface SmallTmpfs {
  /** Where it is mounted (when `mounted`). */
  readonly path: string;
  readonly mounted: boolean;
  /** Why it could not be mounted. */
  readonly skipReason: string | undefined;
  /** Unmounts it and removes its directory. */
  remove(): void;
}

export function mountSmallTmpfs(size = "8m", prefix = "strata-tmpfs-"): SmallTmpfs {
  const base = tempDir(prefix);
  const path = join(base, "mnt");
  mkdirSync(path);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path], { encoding: "utf8" });
  const mounted = r.status === 0;
  return {
    path,
    mounted,
    skipReason: mounted ? undefined : `cannot mount a tmpfs (needs root): ${(r.stderr || r.error?.message || "").trim()}`,
    remove() {
      if (mounted) spawnSync("umount", ["-l", path]);
      rmdirSync(path);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Writes a file into `dir` until the file system refuses (ENOSPC); returns its path. */
export function fillUp(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(64 * 1024).fill(7);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if (errnoCode(e) !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
  return path;
}
