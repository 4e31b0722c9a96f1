// An exclusive lock on a data directory, held for a process's whole use of it and released by the
// operating system when the process dies (kill -9 leaves no stale lock).
//
// Why SQLite: Node has no flock in node:fs, Deno's FsFile.tryLock has no Bun or Node counterpart,
// and a PID file alone is fooled by reused pids. The libSQL driver (already a dependency, native
// under Bun, Deno and Node alike) takes an exclusive POSIX advisory lock on DIR/LOCK with
// `locking_mode = EXCLUSIVE` + `BEGIN EXCLUSIVE`, kept until the connection closes or the process
// ends; a second opener, in this or any other process, gets SQLITE_BUSY at once (busy timeout 0).
// The holder's pid is written beside it (DIR/LOCK.pid) only to name it in the refusal.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "libsql";
import { z } from "zod";
import { invariant, StrataError } from "../../core/errors.ts";

export const LOCK_FILE = "LOCK";
export const LOCK_OWNER_FILE = "LOCK.pid";

/** Who holds a directory: written by the holder once locked, read by whoever is refused. */
const lockOwner = z.object({ pid: z.number().int().positive(), what: z.string(), since: z.string() });
export type LockOwner = z.output<typeof lockOwner>;

type LockState = { readonly kind: "held"; readonly db: Database.Database } | { readonly kind: "released" };

export interface DirLock {
  readonly dir: string;
  readonly owner: LockOwner;
  /** Releases the lock (idempotent); the OS does it too if the process ends first. */
  release(): void;
}

/** How long a refused opener waits for a new holder to name itself before reporting the pid it read. */
const OWNER_SETTLE_MS = 1_000;
const OWNER_POLL_MS = 20;

function isBusy(e: unknown): boolean {
  const code = e instanceof Error && "code" in e ? e.code : undefined;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

function readOwner(dir: string): LockOwner | null {
  const file = join(dir, LOCK_OWNER_FILE);
  if (!existsSync(file)) return null;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const parsed = lockOwner.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, owned by another user.
    return e instanceof Error && "code" in e && e.code === "EPERM";
  }
}

/**
 * The pid named in LOCK.pid. Just after a holder died and a new one locked, the file may still
 * name the dead one: wait (briefly) for a live pid to appear.
 */
async function currentOwner(dir: string): Promise<LockOwner | null> {
  const deadline = Date.now() + OWNER_SETTLE_MS;
  let owner = readOwner(dir);
  while ((owner === null || !isAlive(owner.pid)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, OWNER_POLL_MS));
    owner = readOwner(dir);
  }
  return owner;
}

function inUse(dir: string, what: string, owner: LockOwner | null): StrataError {
  const by = owner ? `pid ${owner.pid} (${owner.what}, since ${owner.since})` : "another process (its pid is not recorded yet)";
  return new StrataError("DATA_DIR_IN_USE", `the data directory ${dir} is in use by ${by}; one ${what} per data directory`);
}

/**
 * Takes DIR's lock for `what` ("gateway", "edge node"), or fails at once with DATA_DIR_IN_USE
 * naming the holder's pid. DIR must exist.
 */
export async function acquireDirLock(dir: string, what: string): Promise<DirLock> {
  const db = new Database(join(dir, LOCK_FILE), { timeout: 0 });
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (e) {
    db.close();
    if (isBusy(e)) throw inUse(dir, what, await currentOwner(dir));
    throw e;
  }
  const owner: LockOwner = { pid: process.pid, what, since: new Date().toISOString() };
  try {
    writeFileSync(join(dir, LOCK_OWNER_FILE), `${JSON.stringify(owner)}\n`);
  } catch (e) {
    db.close();
    throw e;
  }
  let state: LockState = { kind: "held", db };
  return {
    dir,
    owner,
    release() {
      if (state.kind === "released") return;
      invariant(state.db.open, "a held directory lock has its connection open");
      // LOCK.pid stays: a stale pid is harmless, the lock itself is what counts.
      state.db.close();
      state = { kind: "released" };
    },
  };
}
