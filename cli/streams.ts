import type { StreamInfo } from "../gateway/streams/stream-service.ts";
import { streamParam } from "../gateway/client.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { clientFor, expectOk } from "./gateway-client.ts";

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

export const streamsCreateCommand: Command = {
  name: "streams create",
  summary: "create a stream",
  usage: `usage: strata streams create NAME [--partitions N] [--retention-ms MS] [--retention-bytes B] [--gateway URL]`,
  async run(args) {
    const parsed = parseArgs(args, ["partitions", "retention-ms", "retention-bytes", "gateway"]);
    const [name, ...extra] = parsed.positionals;
    if (!name || extra.length > 0) throw new UsageError("give exactly one stream NAME");
    const ms = positiveInt(flag(parsed, "retention-ms"), "retention-ms");
    const bytes = positiveInt(flag(parsed, "retention-bytes"), "retention-bytes");
    const response = await clientFor(parsed).v1.streams.$post({
      json: {
        name,
        partitions: positiveInt(flag(parsed, "partitions"), "partitions") ?? 1,
        ...(ms || bytes ? { retention: { ...(ms ? { ms } : {}), ...(bytes ? { bytes } : {}) } } : {}),
      },
    });
    console.log(JSON.stringify(await expectOk<StreamInfo>(response)));
    return 0;
  },
};

export const streamsListCommand: Command = {
  name: "streams list",
  summary: "list streams with their partitions' offsets",
  usage: `usage: strata streams list [--json] [--gateway URL]`,
  async run(args) {
    const parsed = parseArgs(args, ["gateway"]);
    const { streams } = await expectOk<{ streams: StreamInfo[] }>(await clientFor(parsed).v1.streams.$get());
    if (parsed.switches.has("json")) {
      console.log(JSON.stringify({ streams }));
      return 0;
    }
    for (const s of streams) {
      const records = s.partitions.reduce((n, p) => n + p.end_offset - p.start_offset, 0);
      const bytes = s.partitions.reduce((n, p) => n + p.bytes, 0);
      console.log(`${s.name}\tpartitions=${s.partitions.length}\trecords=${records}\tbytes=${bytes}`);
    }
    return 0;
  },
};

export const streamsGetCommand: Command = {
  name: "streams get",
  summary: "show one stream",
  usage: `usage: strata streams get NAME [--gateway URL]`,
  async run(args) {
    const parsed = parseArgs(args, ["gateway"]);
    const [name] = parsed.positionals;
    if (!name) throw new UsageError("give a stream NAME");
    console.log(JSON.stringify(await expectOk<StreamInfo>(await clientFor(parsed).v1.streams[":name"].$get({ param: { name: streamParam(name) } }))));
    return 0;
  },
};
