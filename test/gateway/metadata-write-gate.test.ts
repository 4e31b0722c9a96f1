// The embedded metadata database serializes its writers in-process (gateway/db/write-gate.ts):
// concurrent write transactions and plain writes beside an open transaction all commit, in order,
// where libSQL's synchronous statements on a second pooled connection failed with SQLITE_BUSY.
import { afterEach, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { join } from "node:path";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const opened: { db: Database; dir: string }[] = [];
afterEach(() => {
  for (const { db, dir } of opened.splice(0)) {
    db.close();
    removeDir(dir);
  }
});

async function database(): Promise<Database> {
  const dir = tempDir("strata-gate-");
  const db = await openDatabase(`file:${join(dir, "meta.db")}`);
  opened.push({ db, dir });
  await db.db.run(sql`CREATE TABLE gate_test (k INTEGER NOT NULL, v INTEGER NOT NULL)`);
  return db;
}

test("concurrent write transactions each commit whole, while reads run beside them", async () => {
  const { db } = await database();
  const writers = Array.from({ length: 12 }, (_, k) =>
    db.transaction(async (tx) => {
      await tx.run(sql`INSERT INTO gate_test VALUES (${k}, 1)`);
      await new Promise((resolve) => setImmediate(resolve)); // let the others start meanwhile
      await tx.run(sql`INSERT INTO gate_test VALUES (${k}, 2)`);
    }),
  );
  const plain = Array.from({ length: 12 }, (_, k) => db.run(sql`INSERT INTO gate_test VALUES (${100 + k}, 0)`));
  const reads = Array.from({ length: 4 }, () => db.all(sql`SELECT count(*) AS n FROM gate_test`));
  const settled = await Promise.allSettled([...writers, ...plain, ...reads]);
  expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
  const rows = await db.all<{ k: number; n: number }>(sql`SELECT k, count(*) AS n FROM gate_test GROUP BY k ORDER BY k`);
  expect(rows).toEqual([...Array.from({ length: 12 }, (_, k) => ({ k, n: 2 })), ...Array.from({ length: 12 }, (_, k) => ({ k: 100 + k, n: 1 }))]);
});

test("a failed transaction rolls back and releases the writers behind it", async () => {
  const { db } = await database();
  const failing = db.transaction(async (tx) => {
    await tx.run(sql`INSERT INTO gate_test VALUES (1, 1)`);
    throw new Error("abandoned");
  });
  const after = db.run(sql`INSERT INTO gate_test VALUES (2, 2)`);
  await expect(failing).rejects.toThrow("abandoned");
  await after;
  expect(await db.all(sql`SELECT k FROM gate_test`)).toEqual([{ k: 2 }]);
});
