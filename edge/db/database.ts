// Opens the edge node's embedded libSQL file (DATA_DIR/edge.db), applies the drizzle-kit
// migrations of edge/db/migrations, and creates the producer identity on first open.
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as schema from "./schema.ts";
import { SerialQueue } from "./serial.ts";

export type EdgeDb = LibSQLDatabase<typeof schema>;
export const EDGE_DB_FILE = "edge.db";
/** How long a statement waits for another process (say `strata edge publish` beside `edge run`) to release the file lock. */
const BUSY_TIMEOUT_MS = 10_000;
/** Two processes opening a fresh directory at once may race on the first migration: one retry settles it. */
const MIGRATE_RETRY_MS = 250;

export interface EdgeDatabase {
  readonly db: EdgeDb;
  readonly client: Client;
  /** Every database operation of this process runs through here, one at a time. */
  readonly serial: SerialQueue;
  close(): void;
}

/** Migrations sit beside this file in the source tree, in edge-migrations beside a bundle. */
function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // edge-migrations first: in a bundle, "migrations" beside it are the gateway's.
  for (const candidate of [join(here, "edge-migrations"), join(here, "migrations")]) {
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
  }
  throw new Error(`edge drizzle migrations not found beside ${here}`);
}

/** A random producer id below 2^53 (never 0). */
export function randomProducerId(): number {
  const b = randomBytes(7);
  let n = 0;
  for (const byte of b) n = n * 256 + byte;
  return (n % (2 ** 53 - 1)) + 1;
}

async function migrateWithRetry(db: EdgeDb): Promise<void> {
  try {
    await migrate(db, { migrationsFolder: migrationsFolder() });
  } catch {
    await new Promise((r) => setTimeout(r, MIGRATE_RETRY_MS));
    await migrate(db, { migrationsFolder: migrationsFolder() });
  }
}

export async function openEdgeDatabase(dataDir: string): Promise<EdgeDatabase> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  // One connection: pragmas hold for it, and SerialQueue keeps in-process work from overlapping.
  // synchronous stays at libSQL's default, FULL: an outbox row survives power loss once publish returns.
  const client = createClient({ url: pathToFileURL(join(dir, EDGE_DB_FILE)).href, timeout: BUSY_TIMEOUT_MS, concurrency: 1 });
  try {
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = FULL");
    const db = drizzle(client, { schema });
    await migrateWithRetry(db);
    const now = Date.now();
    await db.insert(schema.producerIdentity).values({ slot: 1, id: randomProducerId(), epoch: 0, createdAt: now }).onConflictDoNothing();
    await db.insert(schema.syncState).values({ slot: 1, outboxRecords: 0, outboxBytes: 0, lastSync: null }).onConflictDoNothing();
    return { db, client, serial: new SerialQueue(), close: () => client.close() };
  } catch (e) {
    client.close();
    throw e;
  }
}
