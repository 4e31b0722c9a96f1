// The edge's QUIC link as a state machine against a real gateway in this process: with QUIC
// down it falls back to HTTP until `until` (publishes land over HTTP, QUIC is not retried
// before then), and once `until` has passed the next publish connects over QUIC again. The
// fallback window runs on a clock the test moves, so no test waits out a real minute.
import { createSocket } from "node:dgram";
import { afterEach, expect, test } from "bun:test";
import { DEFAULT_EDGE_LIMITS } from "../../edge/limits.ts";
import { encodeRecords } from "../../edge/records.ts";
import { HttpTransport } from "../../edge/transports/http.ts";
import { QuicTransport } from "../../edge/transports/quic.ts";
import { startQuicServer } from "../../gateway/quic/server.ts";
import { loadTlsIdentity } from "../../gateway/quic/tls.ts";
import { liveGateway } from "../helpers/in-process-gateway.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A UDP port nothing listens on (bound, read, released). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

const FALLBACK_MS = 60_000;

test("QUIC down: HTTP stands in until the window ends, then the link returns to QUIC", async () => {
  const gw = await liveGateway({ artefacts: { gcIntervalMs: 0 } });
  cleanup.push(() => gw.close());
  await gw.gateway.services.streams.create({ name: "fallback/s", partitions: 1 });
  // The certificate the QUIC server will present once it starts (generated now, reused then).
  const tls = await loadTlsIdentity({ dataDir: gw.dataDir });
  const quicPort = await freeUdpPort();

  let clock = 1_000_000;
  const notices: string[] = [];
  const choices: string[] = [];
  const transport = new QuicTransport({
    address: { host: "127.0.0.1", port: quicPort, ca: tls.certPem },
    http: new HttpTransport(gw.url, 10_000),
    timeouts: { requestMs: 10_000, connectMs: 500, idleMs: 30_000 },
    notice: (message) => notices.push(message),
    onChoice: (choice) => choices.push(choice.publish),
    fallbackMs: FALLBACK_MS,
    now: () => clock,
  });
  cleanup.push(() => transport.close());
  const signal = new AbortController().signal;
  let seq = 0;
  const publish = (i: number) => transport.publish("fallback/s", { id: 7, epoch: 0, seq: seq++ }, encodeRecords([{ fields: { i } }], DEFAULT_EDGE_LIMITS), signal);

  expect(transport.link.kind).toBe("disconnected");
  expect((await publish(0)).positions).toEqual([{ partition: 0, offset: 0 }]);
  expect(transport.link).toMatchObject({ kind: "http-fallback", until: clock + FALLBACK_MS });
  expect(transport.choice().publish).toBe("http");
  expect(notices.join("\n")).toContain(`QUIC to 127.0.0.1:${quicPort} unavailable`);
  expect(choices).toEqual(["http"]);

  // QUIC comes up, but within the window the link does not try it: publishes stay on HTTP.
  const quic = await startQuicServer(gw.gateway.services, { host: "127.0.0.1", port: quicPort, dataDir: gw.dataDir });
  cleanup.push(() => quic.close());
  clock += FALLBACK_MS - 1;
  expect((await publish(1)).positions).toEqual([{ partition: 0, offset: 1 }]);
  expect(transport.link.kind).toBe("http-fallback");

  // Past `until`: the next publish connects over QUIC and goes there.
  clock += 1;
  expect(transport.choice().publish).toBe("quic");
  expect((await publish(2)).positions).toEqual([{ partition: 0, offset: 2 }]);
  expect(transport.link.kind).toBe("quic");
  expect(transport.choice().publish).toBe("quic");

  // A retried seq over QUIC gets its original position: the producer spans both transports.
  seq = 1;
  expect((await publish(1)).positions).toEqual([{ partition: 0, offset: 1 }]);
  const read = await gw.gateway.services.log.read({ stream: "fallback/s", partition: 0, offset: 0 });
  expect(read.records.map((r) => r.fields?.i)).toEqual([0, 1, 2]);
}, 30_000);

test("without HTTP a failed QUIC connect is an error and the link stays disconnected, then connects once QUIC is up", async () => {
  const gw = await liveGateway({ artefacts: { gcIntervalMs: 0 } });
  cleanup.push(() => gw.close());
  const tls = await loadTlsIdentity({ dataDir: gw.dataDir });
  const quicPort = await freeUdpPort();
  const transport = new QuicTransport({
    address: { host: "127.0.0.1", port: quicPort, ca: tls.certPem },
    http: null,
    timeouts: { requestMs: 10_000, connectMs: 500, idleMs: 30_000 },
    notice: () => undefined,
  });
  cleanup.push(() => transport.close());
  await expect(transport.createStream("fallback/q")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  expect(transport.link.kind).toBe("disconnected");
  const quic = await startQuicServer(gw.gateway.services, { host: "127.0.0.1", port: quicPort, dataDir: gw.dataDir });
  cleanup.push(() => quic.close());
  await transport.createStream("fallback/q");
  expect(transport.link.kind).toBe("quic");
  expect(gw.gateway.services.streams.get("fallback/q").partitions).toHaveLength(1);
}, 30_000);
