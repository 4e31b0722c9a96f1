// Partition leases under contention, on a real libSQL server (sqld): three lease stores, each on
// its own connection as a separate gateway would be, run random interleavings of grant, renew
// and release (fast-check) over three partitions with short leases. Properties: every grant takes
// a new epoch and the grants of a partition are exactly epochs 1..n (never two holders at one
// epoch, epochs only grow); a renewal only ever answers the epoch of its node's latest grant; and
// two nodes never hold one partition at once by the database's clock.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { z } from "zod";
import { DB_NOW } from "../../gateway/cluster/cluster-sql.ts";
import { LeaseStore } from "../../gateway/cluster/lease-store.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

const NODES = ["n1", "n2", "n3"] as const;
const PARTITIONS = 3;
/** Short enough that leases expire during a run, so takeovers by expiry are exercised too. */
const LEASE_MS = 150;

let sqld: SqldServer;
const databases: Database[] = [];

beforeAll(async () => {
  sqld = await startSqld();
  for (let i = 0; i < NODES.length; i++) databases.push(await openDatabase(sqld.url));
}, 60_000);

afterAll(async () => {
  databases.forEach((d) => d.close());
  await sqld?.stop();
});

type Action = { readonly kind: "grant"; readonly partition: number } | { readonly kind: "renew" } | { readonly kind: "release"; readonly partition: number } | { readonly kind: "pause"; readonly ms: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("grant" as const), partition: fc.integer({ min: 0, max: PARTITIONS - 1 }) }),
  fc.record({ kind: fc.constant("renew" as const) }),
  fc.record({ kind: fc.constant("release" as const), partition: fc.integer({ min: 0, max: PARTITIONS - 1 }) }),
  fc.record({ kind: fc.constant("pause" as const), ms: fc.integer({ min: 0, max: 60 }) }),
);

/**
 * A holding as the database saw it, by bounds read on its clock around each call: the tenure
 * surely started by `startsBy` (read after the grant) and surely lasted until `lastsUntil` (read
 * before the grant or latest renewal, plus the lease; cut to the time read before a release).
 */
interface Tenure {
  readonly node: string;
  readonly partition: number;
  readonly epoch: number;
  readonly startsBy: number;
  lastsUntil: number;
}

const nowRow = z.object({ now: z.number().int() });

test("contending lease stores never share an epoch, epochs only grow, tenures never overlap", async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(action, { minLength: 10, maxLength: 30 }), { minLength: NODES.length, maxLength: NODES.length }), async (plans) => {
      const stream = `contention/run-${run++}`;
      const grants: Tenure[] = [];
      const latest = new Map<string, number>(); // node/partition → epoch of its latest grant
      const stores = NODES.map((node, i) => new LeaseStore(databases[i]!.db, node, LEASE_MS));
      const dbNow = async (i: number): Promise<number> => nowRow.parse((await databases[i]!.db.all(sql`SELECT ${DB_NOW} AS now`))[0]).now;
      await Promise.all(
        stores.map(async (store, i) => {
          for (const step of plans[i]!) {
            if (step.kind === "pause") {
              await new Promise((r) => setTimeout(r, step.ms));
            } else if (step.kind === "grant") {
              const before = await dbNow(i);
              const epoch = await store.grant(stream, step.partition);
              if (epoch === undefined) continue;
              grants.push({ node: store.node, partition: step.partition, epoch, startsBy: await dbNow(i), lastsUntil: before + LEASE_MS });
              latest.set(`${store.node}/${step.partition}`, epoch);
            } else if (step.kind === "renew") {
              const before = await dbNow(i);
              for (const held of (await store.renew()).filter((h) => h.stream === stream)) {
                expect(held.epoch).toBe(latest.get(`${store.node}/${held.partition}`)!);
                const tenure = grants.find((g) => g.node === store.node && g.partition === held.partition && g.epoch === held.epoch)!;
                tenure.lastsUntil = Math.max(tenure.lastsUntil, before + LEASE_MS);
              }
            } else {
              const epoch = latest.get(`${store.node}/${step.partition}`);
              if (epoch === undefined) continue;
              const before = await dbNow(i);
              if (await store.release(stream, step.partition, epoch)) {
                const tenure = grants.find((g) => g.node === store.node && g.partition === step.partition && g.epoch === epoch)!;
                tenure.lastsUntil = Math.min(tenure.lastsUntil, before);
              }
            }
          }
        }),
      );
      for (let p = 0; p < PARTITIONS; p++) {
        const tenures = grants.filter((g) => g.partition === p).sort((x, y) => x.epoch - y.epoch);
        // Exactly 1..n: no two grants share an epoch, none is skipped, none goes back.
        expect(tenures.map((t) => t.epoch)).toEqual(tenures.map((_, i) => i + 1));
        // Another node's tenure starts only once the previous one is over (released or expired).
        for (let k = 1; k < tenures.length; k++) {
          const previous = tenures[k - 1]!;
          const next = tenures[k]!;
          if (previous.node !== next.node) expect(next.startsBy).toBeGreaterThanOrEqual(previous.lastsUntil);
        }
      }
    }),
    { numRuns: 8 },
  );
}, 180_000);
