// Opens the metadata database (an embedded libSQL file by default, any libSQL URL otherwise)
// and applies the drizzle-kit migrations before anything else touches it.
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as schema from "./schema.ts";

export type MetadataDb = LibSQLDatabase<typeof schema>;

export interface Database {
  readonly db: MetadataDb;
  readonly client: Client;
  close(): void;
}

/** Migrations sit beside this file in the source tree, and beside the bundle in dist/node. */
function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "migrations"), join(here, "db-migrations")]) {
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
  }
  throw new Error(`drizzle migrations not found beside ${here}`);
}

export async function openDatabase(url: string, authToken?: string): Promise<Database> {
  const client = createClient(authToken ? { url, authToken } : { url });
  if (url.startsWith("file:")) {
    // WAL lets readers run beside the writer; FULL sync because a committed segment row is a
    // promise that the local WAL may be dropped.
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = FULL");
    await client.execute("PRAGMA busy_timeout = 5000");
    await client.execute("PRAGMA foreign_keys = ON");
  }
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: migrationsFolder() });
  return { db, client, close: () => client.close() };
}
