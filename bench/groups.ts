// Consumer-group rebalance bench: how long until every partition is owned again.
//   bun bench/groups.ts                     (GROUPS_BENCH_ROUNDS=5, GROUPS_BENCH_SESSION_MS=3000)
// A Strata gateway (`strata serve`, child process) and member processes (bench/groups/member.ts,
// each a consumeGroup consumer) over one stream of 32 partitions. Each round, with 3 members
// balanced: a 4th joins (clock from its "go" to 4 members each owning 8, nothing being revoked),
// then one member is SIGKILLed (clock from the kill to 3 members owning all 32, balanced). The
// gateway is polled every POLL_MS for its group description, so times are within POLL_MS.
// Peer: Kafka is not installable here. NATS JetStream has no partition ownership; its nearest
// mechanism is a durable pull consumer's ack wait: a message a SIGKILLed client held unacked is
// redelivered to another client after ack_wait. Measured with ack_wait = the session timeout.
import { spawn, type ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { AckPolicy, connect, nanos, RetentionPolicy, StorageType } from "nats";
import { z } from "zod";
import { natsServerVersion, ROOT, startGateway, startNats, type ServerProcess } from "./log/processes.ts";

const PARTITIONS = 32;
const BASE_MEMBERS = 3;
const ROUNDS = Number(process.env.GROUPS_BENCH_ROUNDS ?? 5);
const SESSION_MS = Number(process.env.GROUPS_BENCH_SESSION_MS ?? 3000);
const POLL_MS = 10;
const STREAM = "bench/groups";
const GROUP = "bench-rebalance";

interface Member {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

const descriptionSchema = z.object({
  members: z.array(z.object({ member: z.string(), assignment: z.array(z.object({ partition: z.number().int() })), revoking: z.array(z.unknown()) })),
});

async function spawnMember(gateway: string): Promise<Member> {
  const child = spawn(process.execPath, [join(ROOT, "bench/groups/member.ts"), gateway, GROUP, STREAM, String(SESSION_MS)], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`member exited with ${code} before it was ready`)));
  });
  return { child, exited };
}

function go(member: Member): void {
  member.child.stdin!.write("go\n");
}

/** Whether `members` members own every partition once, floor/ceil balanced, with nothing revoking. */
async function settled(gateway: string, members: number): Promise<boolean> {
  const response = await fetch(`${gateway}/v1/groups/${GROUP}`);
  if (!response.ok) return false;
  const d = descriptionSchema.parse(await response.json());
  if (d.members.length !== members || d.members.some((m) => m.revoking.length > 0)) return false;
  const owned = d.members.flatMap((m) => m.assignment.map((p) => p.partition));
  if (owned.length !== PARTITIONS || new Set(owned).size !== PARTITIONS) return false;
  return d.members.every((m) => m.assignment.length === Math.floor(PARTITIONS / members) || m.assignment.length === Math.ceil(PARTITIONS / members));
}

/** Milliseconds from `t0` until settled(members). */
async function untilSettled(gateway: string, members: number, t0: number): Promise<number> {
  const deadline = t0 + 60_000 + SESSION_MS;
  while (!(await settled(gateway, members))) {
    if (performance.now() > deadline) throw new Error(`the group did not settle with ${members} members`);
    await Bun.sleep(POLL_MS);
  }
  return performance.now() - t0;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function strataRounds(gateway: string): Promise<{ join: number[]; kill: number[] }> {
  const created = await fetch(`${gateway}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: STREAM, partitions: PARTITIONS }) });
  if (!created.ok) throw new Error(`create stream: ${created.status} ${await created.text()}`);
  const live: Member[] = [];
  for (let i = 0; i < BASE_MEMBERS; i++) {
    const m = await spawnMember(gateway);
    go(m);
    live.push(m);
  }
  await untilSettled(gateway, BASE_MEMBERS, performance.now());
  const join: number[] = [];
  const kill: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const joining = await spawnMember(gateway);
    const t0 = performance.now();
    go(joining);
    live.push(joining);
    join.push(await untilSettled(gateway, BASE_MEMBERS + 1, t0));
    // Kill a different member each round (never the one that just joined).
    const victim = live.splice(round % BASE_MEMBERS, 1)[0]!;
    const t1 = performance.now();
    victim.child.kill("SIGKILL");
    await victim.exited;
    kill.push(await untilSettled(gateway, BASE_MEMBERS, t1));
  }
  for (const m of live) m.child.kill("SIGTERM");
  await Promise.all(live.map((m) => m.exited));
  return { join, kill };
}

/** JetStream: ms from closing (as a kill: no ack, no goodbye) the client holding a message to another client receiving it. */
async function jetstreamRedelivery(nats: ServerProcess): Promise<number[]> {
  const admin = await connect({ servers: nats.url });
  const jsm = await admin.jetstreamManager();
  await jsm.streams.add({ name: "tasks", subjects: ["tasks.>"], storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: 1 });
  await jsm.consumers.add("tasks", { durable_name: "workers", ack_policy: AckPolicy.Explicit, ack_wait: nanos(SESSION_MS), max_deliver: -1 });
  const js = admin.jetstream();
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await js.publish("tasks.work", new Uint8Array(1024));
    const holder = await connect({ servers: nats.url });
    const held = await (await holder.jetstream().consumers.get("tasks", "workers")).next({ expires: 5_000 });
    if (held === null) throw new Error("JetStream delivered nothing");
    const t0 = performance.now();
    await holder.close();
    const other = await connect({ servers: nats.url });
    const consumer = await other.jetstream().consumers.get("tasks", "workers");
    for (;;) {
      const m = await consumer.next({ expires: 1_000 });
      if (m === null) continue;
      times.push(performance.now() - t0);
      m.ack();
      await m.ackAck().catch(() => undefined);
      break;
    }
    await other.close();
  }
  await admin.close();
  return times;
}

const fmt = (ms: number): string => ms.toFixed(0);
const loadBefore = loadavg();
const gateway = await startGateway();
let strata: { join: number[]; kill: number[] };
try {
  strata = await strataRounds(gateway.url);
} finally {
  await gateway.stop();
}
let jet: number[] | undefined;
const natsVersion = natsServerVersion();
if (natsVersion !== undefined) {
  const nats = await startNats();
  try {
    jet = await jetstreamRedelivery(nats);
  } finally {
    await nats.stop();
  }
}
const loadAfter = loadavg();

console.log(`## Consumer-group rebalance (${PARTITIONS} partitions, ${BASE_MEMBERS}->${BASE_MEMBERS + 1}->${BASE_MEMBERS} members, session timeout ${SESSION_MS} ms, heartbeat interval ${Math.floor(SESSION_MS / 3)} ms, ${ROUNDS} rounds)\n`);
console.log("| event | median ms | min ms | max ms | median minus session timeout |");
console.log("| --- | ---: | ---: | ---: | ---: |");
console.log(`| Strata: a member joins (until 4 members own 8 each) | ${fmt(median(strata.join))} | ${fmt(Math.min(...strata.join))} | ${fmt(Math.max(...strata.join))} | n/a |`);
console.log(`| Strata: a member is SIGKILLed (until 3 members own all 32) | ${fmt(median(strata.kill))} | ${fmt(Math.min(...strata.kill))} | ${fmt(Math.max(...strata.kill))} | ${fmt(median(strata.kill) - SESSION_MS)} |`);
if (jet !== undefined) {
  console.log(`| JetStream ${natsVersion}: a client holding a message dies, another receives it (ack_wait ${SESSION_MS} ms) | ${fmt(median(jet))} | ${fmt(Math.min(...jet))} | ${fmt(Math.max(...jet))} | ${fmt(median(jet) - SESSION_MS)} |`);
} else {
  console.log("| JetStream: nats-server not installed, not measured | | | | |");
}
console.log(
  `\nKafka (the model of this protocol, KIP-848) is not installable here: no Kafka peer. JetStream has no partition ownership; its row is the nearest mechanism (a durable pull consumer's ack wait), one message per round. Times are within ${POLL_MS} ms (polling of the group description). Bun ${Bun.version}; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}); load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after.`,
);
