// The credit window is enforced by the gateway itself: a raw client that sends more requests
// than max_in_flight has them served max_in_flight at a time.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeFrame } from "../../core/quic/frames.ts";
import { FrameReader } from "../../core/quic/stream.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { quicGateway, type QuicGateway } from "./quic-fixture.ts";

let gw: QuicGateway;
beforeAll(async () => {
  gw = await quicGateway({ maxInFlight: 2 });
  await gw.gateway.services.streams.create({ name: "flow/s", partitions: 1 });
});
afterAll(async () => gw?.close());

test("requests past max_in_flight wait for earlier ones to finish", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    const control = await connection.openBidi();
    const reader = new FrameReader(control.chunks, 1 << 20);
    await control.write(encodeFrame({ t: "hello", versions: [1] }));
    const hello = await reader.next();
    expect(hello).toMatchObject({ t: "hello-ok", max_in_flight: 2 });
    // Six long-polls at the end of an empty partition, 300 ms each, sent at once.
    const started = performance.now();
    for (let id = 0; id < 6; id++) await control.write(encodeFrame({ t: "fetch", id, stream: "flow/s", partition: 0, offset: 0, wait_ms: 300 }));
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(await reader.next()).toMatchObject({ t: "records", records: [] });
      times.push(performance.now() - started);
    }
    // Two at a time: answers come in three waves, the last after about 900 ms.
    expect(times[5]!).toBeGreaterThan(850);
    expect(times[1]!).toBeLessThan(850);
  } finally {
    await connection.close();
  }
});
