// A coordinator paused (SIGSTOP) past its lock's lease while another gateway takes the role: when
// it resumes (SIGCONT) its overdue timers see every member's session as expired, yet it writes
// nothing (the services' mayWrite check fails before its next round steps it down). The group's
// members, kept alive through the new coordinator meanwhile, stay in the database and in every
// answer. Three real `strata serve --cluster` processes on sqld and radosgw.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { COORDINATOR_LOCK } from "../../gateway/cluster/coordinator.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";
import { GroupMembers } from "../groups/group-http.ts";

const SESSION_MS = 1_500;

let cluster: TestCluster;
let metadata: Database;

beforeAll(async () => {
  cluster = await startTestCluster({ gateways: 3 });
  metadata = await openDatabase(cluster.dev.sqld.url);
}, 300_000);

afterAll(async () => {
  metadata?.close();
  await cluster?.stop();
}, 60_000);

const holderRow = z.object({ holder: z.string().nullable() });
const countRow = z.object({ n: z.number() });

async function coordinator(): Promise<string | null> {
  const rows = await metadata.db.all(sql`SELECT holder FROM cluster_locks WHERE name = ${COORDINATOR_LOCK} AND expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`);
  return rows[0] === undefined ? null : holderRow.parse(rows[0]).holder;
}

async function membersInDatabase(group: string): Promise<number> {
  const rows = await metadata.db.all(sql`SELECT count(*) AS n FROM consumer_group_members WHERE "group" = ${group}`);
  return countRow.parse(rows[0]).n;
}

test("a coordinator resumed after a pause past its lease expires no member and writes nothing", async () => {
  await cluster.createStream("pause/events", 2);
  const old = await waitUntil("a coordinator", async () => (await coordinator()) ?? undefined);
  const survivors = cluster.gateways.filter((g) => g.node !== old);
  const members = new GroupMembers(survivors[0]!.url, "pause-readers");
  const heartbeatAll = async (): Promise<boolean> => {
    for (const [i, member] of ["p-0", "p-1"].entries()) {
      members.url = survivors[i]!.url;
      const answer = await members.heartbeat(member, { streams: ["pause/events"], sessionTimeoutMs: SESSION_MS });
      if (answer.status !== 200) return false;
    }
    return true;
  };
  await waitUntil("both members joined", async () => ((await heartbeatAll()) ? true : undefined));
  expect(await membersInDatabase("pause-readers")).toBe(2);

  const paused = cluster.gateway(old!);
  paused.pause();
  try {
    // The role moves once the lock expires; the members keep their sessions through the new coordinator.
    await waitUntil("another gateway coordinates", async () => {
      const holder = await coordinator();
      return holder !== null && holder !== old ? holder : undefined;
    }, 60_000);
    await waitUntil("the members heartbeat through the new coordinator", async () => ((await heartbeatAll()) ? true : undefined), 30_000);
  } finally {
    paused.resume();
  }
  // The resumed gateway's overdue session sweep would expire both members (the last heartbeat it
  // saw is older than their session) and delete their rows. Watch the database between
  // heartbeats (each watch shorter than a session, so the new coordinator expires no one): only
  // the resumed gateway could change the rows then.
  for (let round = 0; round < 4; round++) {
    expect(await heartbeatAll()).toBe(true);
    const watchUntil = Date.now() + SESSION_MS / 2;
    while (Date.now() < watchUntil) expect(await membersInDatabase("pause-readers")).toBe(2);
  }
  // It follows now: its requests are proxied to the new coordinator.
  members.url = paused.url;
  expect((await members.heartbeat("p-0")).status).toBe(200);
}, 240_000);
