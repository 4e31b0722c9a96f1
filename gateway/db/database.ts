// Opens the metadata database (an embedded libSQL file by default, any libSQL URL otherwise)
// and applies the drizzle-kit migrations before anything else touches it.
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StrataError } from "../../core/errors.ts";
import { errnoCode, errorText } from "../objects/errno.ts";
import * as schema from "./schema.ts";
import { gateWrites } from "./write-gate.ts";

export type MetadataDb = LibSQLDatabase<typeof schema>;

export interface Database {
  readonly db: MetadataDb;
  readonly client: Client;
  close(): void;
}

/** How long a write waits for another connection's write transaction before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/** Migrations sit beside this file in the source tree, and beside the bundle in dist/node. */
function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "migrations"), join(here, "db-migrations")]) {
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
  }
  throw new Error(`drizzle migrations not found beside ${here}`);
}

export async function openDatabase(url: string, authToken?: string): Promise<Database> {
  const local = url.startsWith("file:");
  const client = createClient({ url, ...(local ? { timeout: BUSY_TIMEOUT_MS } : {}), ...(authToken ? { authToken } : {}) });
  if (local) {
    // Local statements run synchronously on this thread: writers queue in-process (write-gate.ts).
    gateWrites(client);
    // WAL lets readers run beside the writer; FULL sync because a committed segment row is a
    // promise that the local WAL may be dropped.
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = FULL");
    await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    await client.execute("PRAGMA foreign_keys = ON");
  }
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: migrationsFolder() });
  return { db, client, close: () => client.close() };
}

/** Causes deep enough for drizzle's wrapper around libSQL's error around the system error. */
const MAX_CAUSE_DEPTH = 8;

/**
 * True when `e`, or an error it wraps (drizzle wraps libSQL's errors), says the disk is full:
 * SQLite's SQLITE_FULL or the system's ENOSPC.
 */
export function isDiskFull(e: unknown): boolean {
  let current: unknown = e;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    const code = errnoCode(current);
    if (code === "SQLITE_FULL" || code === "ENOSPC") return true;
    if (current instanceof StrataError && current.code === "INSUFFICIENT_STORAGE") return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/** A full disk as INSUFFICIENT_STORAGE (507) naming what failed; any other error unchanged. */
export function diskFullAsInsufficientStorage(e: unknown, what: string): unknown {
  if (e instanceof StrataError && e.code === "INSUFFICIENT_STORAGE") return e;
  if (!isDiskFull(e)) return e;
  return new StrataError("INSUFFICIENT_STORAGE", `${what}: the disk is full (${errorText(e)}); retry once space is freed`, { cause: e });
}
