// `strata consume STREAM --group G`: this process is one member of group G. It prints the records
// of every partition the group assigns it, following the assignment as members come and go, and
// commits a batch only after its lines are written out and stdout has drained (at-least-once: a
// crash between the two prints a batch again, never skips one). SIGINT/SIGTERM leave the group.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../core/errors.ts";
import { connectionOf } from "./gateway-url.ts";
import { consumeGroup } from "../gateway/client.ts";
import { recordLine } from "./record-line.ts";
import type { StartPoint } from "./start-offsets.ts";
import { writeOut } from "./stdout.ts";

const log = getLogger(["strata", "cli", "consume"]);

export interface GroupConsumeOptions {
  readonly gateway: string;
  readonly stream: string;
  readonly group: string;
  readonly instance?: string;
  readonly sessionTimeoutMs?: number;
  readonly filter?: string;
  readonly fields?: readonly string[];
  readonly from: StartPoint;
  readonly json: boolean;
  readonly token?: string;
  readonly ca?: string;
}

/** Runs until interrupted; resolves 0 after leaving the group. */
export async function consumeAsGroupMember(o: GroupConsumeOptions): Promise<number> {
  if (o.from.kind !== "earliest" && o.from.kind !== "latest") {
    throw new StrataError("BAD_REQUEST", "with --group, --from is earliest or latest: where a partition the group never committed starts");
  }
  const consumer = consumeGroup({
    ...connectionOf(o),
    group: o.group,
    streams: [o.stream],
    start: o.from.kind,
    ...(o.instance === undefined ? {} : { instance: o.instance }),
    ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: o.sessionTimeoutMs }),
    ...(o.filter === undefined ? {} : { filter: o.filter }),
    ...(o.fields === undefined ? {} : { fields: o.fields }),
  });
  // A signal during a write lets the write finish and its batch be committed; otherwise it closes at once.
  let stopping = false;
  let writing = false;
  const onSignal = (): void => {
    stopping = true;
    if (!writing) void consumer.close();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  log.info("consuming {stream} as member {member} of group {group}", { stream: o.stream, member: consumer.member, group: o.group });
  try {
    // Asking for the next batch commits the one before: it has been written out by then.
    for await (const batch of consumer) {
      writing = true;
      await writeOut(batch.records.map((r) => `${recordLine(r.partition, r, o.json ? "ms" : "iso")}\n`).join(""));
      writing = false;
      if (stopping) {
        await consumer.commit();
        break;
      }
    }
    return 0;
  } finally {
    await consumer.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
