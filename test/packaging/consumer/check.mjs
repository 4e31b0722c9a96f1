// Runs inside a separate project that installed the packed package, under Node, Bun or Deno:
// uses every public entry point through the package's exports map and prints one JSON line
// for test/packaging/libraries.test.ts. Usage: check.mjs GATEWAY_URL STREAM EDGE_DATA_DIR
import { blake3Hex, StrataError } from "@strata-gw/strata/core";
import { createClient, streamParam } from "@strata-gw/strata/client";
import { openEdge } from "@strata-gw/strata/edge";
import { blake3Hex as browserBlake3Hex, publish } from "@strata-gw/strata/edge/browser";

const [gatewayUrl, stream, edgeDataDir] = process.argv.slice(2);
if (!gatewayUrl || !stream || !edgeDataDir) throw new Error("usage: check.mjs GATEWAY_URL STREAM EDGE_DATA_DIR");

/** 1 MiB of a fixed pattern: many BLAKE3 chunks, so the SIMD tree path runs. */
function pattern() {
  const bytes = new Uint8Array(1 << 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

async function expectStatus(response, status, what) {
  if (response.status !== status) throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

const strata = createClient(gatewayUrl);
await expectStatus(await strata.v1.streams.$post({ json: { name: stream, partitions: 1 } }), 201, "create stream");
const published = await (
  await expectStatus(
    await strata.v1.streams[":name"].records.$post({
      param: { name: streamParam(stream) },
      query: {},
      json: { records: [{ key: "client", fields: { from: "client", n: 1 } }] },
    }),
    200,
    "publish",
  )
).json();

// The edge node: its outbox, then one sync pass as an idempotent producer.
const edge = await openEdge({ dataDir: edgeDataDir, gateway: { http: gatewayUrl }, maxOutboxBytes: 1 << 20 });
await edge.publish(stream, [{ key: "edge", fields: { from: "edge" } }]);
await edge.run({ once: true });
const edgeStatus = await edge.status();
await edge.close();

const browserPositions = await publish(gatewayUrl, stream, [{ key: "browser", fields: { from: "browser" } }]);

const read = await (
  await expectStatus(
    await strata.v1.streams[":name"].partitions[":partition"].records.$get({
      param: { name: streamParam(stream), partition: "0" },
      query: { offset: "0" },
    }),
    200,
    "read",
  )
).json();

// An error thrown by one entry point is an instance of the class another one exports: the
// entries share one copy of core.
let sharedErrorClass = false;
try {
  await openEdge({ dataDir: edgeDataDir, maxOutboxBytes: 0 });
} catch (e) {
  sharedErrorClass = e instanceof StrataError && e.code === "BAD_REQUEST";
}

process.stdout.write(
  JSON.stringify({
    blake3Empty: blake3Hex(new Uint8Array(0)),
    blake3Pattern: blake3Hex(pattern()),
    browserBlake3Abc: browserBlake3Hex(new TextEncoder().encode("abc")),
    published: published.records,
    edgeOutboxRecords: edgeStatus.outboxRecords,
    browserPositions,
    read: read.records.map((r) => ({ offset: r.offset, key: r.key, from: r.fields.from })),
    sharedErrorClass,
  }) + "\n",
);
