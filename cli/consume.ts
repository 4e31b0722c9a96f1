import type { JsonReadResponse } from "../gateway/client.ts";
import { streamParam } from "../gateway/client.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { clientFor, expectOk } from "./gateway-client.ts";

const usage = `usage: strata consume STREAM [--partition P] [--from OFFSET] [--max N] [--fields a,b]
                      [--follow] [--gateway URL]

Prints records as JSON lines {"offset", "timestamp", "key", "headers", "fields"} from OFFSET
(default 0) to the end of the partition; with --follow keeps waiting for new ones.`;

function nonNegative(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

export const consumeCommand: Command = {
  name: "consume",
  summary: "print records of a partition as JSON lines",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["partition", "from", "max", "fields", "gateway"]);
    const [stream, ...extra] = parsed.positionals;
    if (!stream || extra.length > 0) throw new UsageError("give exactly one STREAM");
    const partition = nonNegative(flag(parsed, "partition"), "partition", 0);
    let offset = nonNegative(flag(parsed, "from"), "from", 0);
    const max = nonNegative(flag(parsed, "max"), "max", Number.MAX_SAFE_INTEGER);
    const follow = parsed.switches.has("follow");
    const fields = flag(parsed, "fields");
    const client = clientFor(parsed);
    let printed = 0;
    let stopping = false;
    process.once("SIGINT", () => (stopping = true));
    while (printed < max && !stopping) {
      const response = await client.v1.streams[":name"].partitions[":partition"].records.$get({
        param: { name: streamParam(stream), partition: String(partition) },
        query: {
          offset: String(offset),
          max_records: String(Math.min(1000, max - printed)),
          ...(fields !== undefined ? { fields } : {}),
          ...(follow ? { wait_ms: "10000" } : {}),
        },
      });
      const page = await expectOk<JsonReadResponse>(response);
      if (page.records.length > 0) process.stdout.write(page.records.map((r) => JSON.stringify(r)).join("\n") + "\n");
      printed += page.records.length;
      offset = page.next_offset;
      if (!follow && offset >= page.end_offset) break;
    }
    return 0;
  },
};
