// A tombstone published over QUIC: the publish frame takes nil fields, and the latest map (HTTP)
// loses the key. Keyless records to a compacted stream are refused over QUIC too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { failure } from "../helpers/failure.ts";
import { quicGateway, type QuicGateway } from "../quic/quic-fixture.ts";

let gw: QuicGateway;
let client: QuicClient;

beforeAll(async () => {
  gw = await quicGateway();
  client = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  await gw.gateway.services.streams.create({ name: "quic-params", cleanup: "compact" });
});
afterAll(async () => {
  await client.close();
  await gw.close();
});

test("QUIC publishes update the latest map; a nil-fields record is a tombstone; a keyless one is KEY_REQUIRED", async () => {
  const utf8 = new TextEncoder();
  await client.publish("quic-params", { records: [{ key: utf8.encode("lr"), fields: { v: 1 } }, { key: utf8.encode("wd"), fields: { v: 2 } }] });
  await client.publish("quic-params", { records: [{ key: utf8.encode("wd"), fields: null }] });
  const view = await gw.gateway.services.latest.latest({ stream: "quic-params" });
  expect(view.records.map((r) => [new TextDecoder().decode(r.key), r.fields])).toEqual([["lr", { v: 1 }]]);
  const refused = await failure(client.publish("quic-params", { records: [{ fields: { v: 3 } }] }));
  expect(refused.code).toBe("KEY_REQUIRED");
});
