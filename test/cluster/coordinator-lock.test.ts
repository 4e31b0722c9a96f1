// The coordinator lock of the stateful services (gateway/cluster/coordinator.ts,
// coordinated-services.ts) on a real libSQL server: gateways contending at once elect one
// coordinator, the others learn its URL; a clean close hands the role over at once; a coordinator
// cut off from the database steps down before its lease expires and another takes the role after
// expiry; services are resumed only on the coordinator and suspended when it stops. Each
// "gateway" is its own database connection and node name; membership rows are written in SQL as
// the membership layer would.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { coordinateServices, type CoordinatedService, type CoordinatedServices } from "../../gateway/cluster/coordinated-services.ts";
import { COORDINATOR_LOCK } from "../../gateway/cluster/coordinator.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";
import { waitFor } from "../jobs/job-fixture.ts";

const LIMITS = { leaseMs: 1_500, renewMs: 250, forwardTimeoutMs: 5_000 };
const DB_NOW = sql.raw("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");

let sqld: SqldServer;
let admin: Database;
const databases: Database[] = [];

beforeAll(async () => {
  sqld = await startSqld();
  admin = await openDatabase(sqld.url);
}, 60_000);

afterAll(async () => {
  for (const d of databases) d.close();
  admin?.close();
  await sqld?.stop();
});

/** What a stateful service sees: its resumes, suspends and refreshes, in order. */
class RecordingService implements CoordinatedService {
  readonly events: string[] = [];
  serving = false;
  async resume(): Promise<void> {
    this.events.push("resume");
    this.serving = true;
  }
  async suspend(): Promise<void> {
    this.events.push("suspend");
    this.serving = false;
  }
  async refresh(): Promise<void> {
    this.events.push("refresh");
  }
}

interface Member {
  readonly node: string;
  readonly database: Database;
  readonly service: RecordingService;
  readonly coordination: CoordinatedServices;
}

async function join(cluster: string, name: string): Promise<Member> {
  const database = await openDatabase(sqld.url);
  databases.push(database);
  const node = `${cluster}-${name}`;
  await database.db.run(sql`
    INSERT INTO cluster_nodes (node, url, incarnation, state, started_at, heartbeat_at, expires_at)
    VALUES (${node}, ${`http://${node}.test`}, 1, 'up', ${DB_NOW}, ${DB_NOW}, ${DB_NOW} + 600000)
    ON CONFLICT (node) DO UPDATE SET incarnation = incarnation + 1, expires_at = excluded.expires_at`);
  const service = new RecordingService();
  const coordination = await coordinateServices({ db: database.db, node, limits: LIMITS, services: [service] });
  return { node, database, service, coordination };
}

/** Each test is its own cluster: the lock row is shared, so it starts free. */
async function freshLock(): Promise<void> {
  await admin.db.run(sql`DELETE FROM cluster_locks WHERE name = ${COORDINATOR_LOCK}`);
}

const leaders = (members: readonly Member[]) => members.filter((m) => m.coordination.leads());

test("gateways starting at once elect one coordinator; the others proxy to its URL; only it resumes the services", async () => {
  await freshLock();
  const members = await Promise.all(["a", "b", "c"].map((n) => join("elect", n)));
  try {
    expect(leaders(members)).toHaveLength(1);
    const [leader] = leaders(members);
    expect(leader!.coordination.route()).toEqual({ kind: "local" });
    expect(leader!.service.events).toEqual(["resume"]);
    for (const m of members.filter((x) => x !== leader)) {
      await waitFor(() => m.coordination.route().kind === "remote", `${m.node} learns the coordinator`);
      expect(m.coordination.route()).toEqual({ kind: "remote", node: leader!.node, url: `http://${leader!.node}.test` });
      expect(m.service.serving).toBe(false);
      expect(m.service.events).not.toContain("resume");
    }
    // Renewals keep the same coordinator (several lease periods of ticks).
    for (let i = 0; i < 3; i++) await Promise.all(members.map((m) => m.coordination.tick()));
    expect(leaders(members)).toEqual([leader!]);
    expect(leader!.service.events).toEqual(["resume"]);
  } finally {
    for (const m of members) await m.coordination.close();
  }
});

test("a coordinator that closes hands the role over at once: suspended there, resumed on one other gateway", async () => {
  await freshLock();
  const members = await Promise.all(["a", "b", "c"].map((n) => join("handover", n)));
  try {
    const [first] = leaders(members);
    await first!.coordination.close();
    expect(first!.service.events).toEqual(["resume", "suspend"]);
    expect(first!.service.serving).toBe(false);
    const rest = members.filter((m) => m !== first);
    // No waiting for the lease to expire: the next tick of either takes the released lock.
    await Promise.all(rest.map((m) => m.coordination.tick()));
    expect(leaders(rest)).toHaveLength(1);
    const [second] = leaders(rest);
    expect(second!.service.events.filter((e) => e !== "refresh")).toEqual(["resume"]);
    const follower = rest.find((m) => m !== second)!;
    await follower.coordination.tick();
    expect(follower.coordination.route()).toEqual({ kind: "remote", node: second!.node, url: `http://${second!.node}.test` });
  } finally {
    for (const m of members) await m.coordination.close();
  }
});

test("a coordinator cut off from the database steps down before its lease expires; another takes the role after expiry", async () => {
  await freshLock();
  const a = await join("cutoff", "a");
  const b = await join("cutoff", "b");
  try {
    expect(a.coordination.leads()).toBe(true);
    await b.coordination.tick();
    expect(b.coordination.leads()).toBe(false);
    // a loses its connection: its renewals fail from now on.
    a.database.close();
    // Whenever b gets the lock, a has already stepped down: never two coordinators.
    await waitFor(async () => {
      await b.coordination.tick();
      if (b.coordination.leads()) expect(a.coordination.leads()).toBe(false);
      return b.coordination.leads();
    }, "b takes the expired lock", 15_000);
    expect(a.service.events.filter((e) => e !== "refresh")).toEqual(["resume", "suspend"]);
    expect(b.service.events.filter((e) => e !== "refresh")).toEqual(["resume"]);
  } finally {
    await a.coordination.close();
    await b.coordination.close();
  }
});

test("followers refresh the services' state others read; the coordinator does not", async () => {
  await freshLock();
  const a = await join("refresh", "a");
  const b = await join("refresh", "b");
  try {
    await waitFor(() => b.service.events.includes("refresh"), "the follower refreshes", 10_000);
    await a.coordination.refresh();
    expect(a.service.events).not.toContain("refresh");
  } finally {
    await a.coordination.close();
    await b.coordination.close();
  }
});
