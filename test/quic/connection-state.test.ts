// The gateway's connection state machine (awaiting-hello -> established -> closing): its
// transitions and asserted invariants on their own, then the same rules seen from a raw client
// over real QUIC: a frame before hello, hello twice, streams and frames after the close began.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { encodeFrame, frameHeader } from "../../core/quic/frames.ts";
import { FrameReader, type QuicConnection } from "../../core/quic/stream.ts";
import { blake3 } from "../../core/hashing/blake3.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { ConnectionStateMachine } from "../../gateway/quic/connection-state.ts";
import { exchange, HELLO, openControl, quicGateway, type QuicGateway } from "./quic-fixture.ts";

const bounds = { maxInFlight: 2, maxInFlightBytes: 100, maxBulkStreams: 1 };
const session = { version: 1, peerMaxFrameBytes: 1 << 20 };

function established(): ConnectionStateMachine {
  const state = new ConnectionStateMachine(bounds);
  expect(state.claimControl()).toBe(true);
  state.establish(session);
  return state;
}

function violation(run: () => unknown): StrataError {
  try {
    run();
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("no invariant violation");
}

describe("the state machine", () => {
  test("awaiting-hello: one stream claims the control role; establishing wakes the waiting bulk streams", async () => {
    const state = new ConnectionStateMachine(bounds);
    expect(state.state).toEqual({ kind: "awaiting-hello", control: "none" });
    const waiting = state.whenEstablished();
    expect(state.claimControl()).toBe(true);
    expect(state.claimControl()).toBe(false); // hello twice
    expect(state.hasCredit()).toBe(false);
    state.establish(session);
    expect(await waiting).toEqual(session);
    expect(state.state).toEqual({ kind: "established", ...session, inFlight: 0, inFlightBytes: 0, bulkOpen: 0 });
    expect(state.claimControl()).toBe(false);
  });

  test("established: the credit window counts requests and their bytes; one frame may cross the byte bound", async () => {
    const state = established();
    state.admit(10);
    expect(state.hasCredit()).toBe(true);
    state.admit(150);
    expect(state.state).toMatchObject({ inFlight: 2, inFlightBytes: 160 });
    expect(state.hasCredit()).toBe(false);
    const credit = state.whenCreditChanges();
    state.settle(10);
    await credit;
    expect(state.hasCredit()).toBe(false); // still 150 bytes of the 100 allowed
    state.settle(150);
    expect(state.hasCredit()).toBe(true);
    expect(state.state).toMatchObject({ inFlight: 0, inFlightBytes: 0 });
  });

  test("established: bulk streams up to the bound", () => {
    const state = established();
    expect(state.openBulk()).toBe(true);
    expect(state.openBulk()).toBe(false);
    state.closeBulk();
    expect(state.openBulk()).toBe(true);
  });

  test("closing: nothing new starts, what runs is counted down, waiters are released", async () => {
    const waiting = new ConnectionStateMachine(bounds);
    const hello = waiting.whenEstablished();
    waiting.close("no hello");
    await expect(hello).rejects.toThrow(/closing \(no hello\)/);
    await expect(waiting.whenEstablished()).rejects.toMatchObject({ code: "UNAVAILABLE" });

    const state = established();
    state.admit(10);
    expect(state.openBulk()).toBe(true);
    const credit = state.whenCreditChanges();
    state.close("malformed frame");
    await credit;
    expect(state.state).toEqual({ kind: "closing", reason: "malformed frame", inFlight: 1, inFlightBytes: 10, bulkOpen: 1 });
    expect(state.isClosing()).toBe(true);
    expect(state.hasCredit()).toBe(false);
    expect(state.openBulk()).toBe(false);
    expect(state.claimControl()).toBe(false);
    state.settle(10);
    state.closeBulk();
    expect(state.state).toEqual({ kind: "closing", reason: "malformed frame", inFlight: 0, inFlightBytes: 0, bulkOpen: 0 });
    state.close("again"); // idempotent
    expect(state.state).toMatchObject({ reason: "malformed frame" });
  });

  test("every transition out of order is an asserted invariant (INTERNAL), not input", () => {
    const fresh = new ConnectionStateMachine(bounds);
    const cases: [string, () => unknown][] = [
      ["establish without a control stream", () => fresh.establish(session)],
      ["admit before hello", () => fresh.admit(1)],
      ["a bulk stream before hello", () => fresh.openBulk()],
      ["establish twice", () => established().establish(session)],
      ["settle without admit", () => established().settle(0)],
      ["settle more bytes than admitted", () => {
        const s = established();
        s.admit(5);
        s.settle(6);
      }],
      ["admit without credit", () => {
        const s = established();
        s.admit(1);
        s.admit(1);
        s.admit(1);
      }],
      ["closeBulk without openBulk", () => established().closeBulk()],
      ["establish after close", () => {
        const s = new ConnectionStateMachine(bounds);
        s.claimControl();
        s.close("gone");
        s.establish(session);
      }],
    ];
    for (const [what, run] of cases) {
      const e = violation(run);
      expect({ what, code: e.code }).toEqual({ what, code: "INTERNAL" });
      expect(e.message).toContain("invariant violated");
    }
    expect(() => new ConnectionStateMachine({ ...bounds, maxInFlight: 0 })).toThrow(/invariant violated/);
  });
});

describe("over QUIC", () => {
  let gw: QuicGateway;
  beforeAll(async () => {
    gw = await quicGateway({ bulkWaitMs: 300, helloTimeoutMs: 5000 });
  });
  afterAll(async () => gw?.close());

  async function connect(): Promise<QuicConnection> {
    return connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  }

  test("a bulk stream before hello waits for it, then is served", async () => {
    const connection = await connect();
    try {
      const data = new Uint8Array(100).fill(9);
      const bulk = connection.openBidi();
      const stream = await bulk;
      await stream.write(encodeFrame({ t: "chunks-put", chunks: [[blake3(data), data]] }));
      const bulkReader = new FrameReader(stream.chunks, 1 << 20);
      const answer = bulkReader.next();
      await openControl(connection);
      expect(await answer).toEqual({ t: "stored", stored: 1, existing: 0 });
    } finally {
      await connection.close();
    }
  });

  test("a bulk stream whose connection never says hello is refused after bulkWaitMs", async () => {
    const connection = await connect();
    try {
      const frames = await exchange(connection, encodeFrame({ t: "chunks-get", hashes: [new Uint8Array(32)] }));
      expect(frames).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST", message: expect.stringContaining("needs a completed hello") })]);
    } finally {
      await connection.close();
    }
  });

  test("a request before hello is refused: a stream starts with hello or a bulk request", async () => {
    const connection = await connect();
    try {
      const frames = await exchange(connection, encodeFrame({ t: "stream-info", id: 1, stream: "x" }));
      expect(frames).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST", message: expect.stringContaining("starts with hello") })]);
    } finally {
      await connection.close();
    }
  });

  test("hello twice: a second control stream is refused, the first goes on; hello again on it is a bad request", async () => {
    const connection = await connect();
    try {
      const { stream: control, reader } = await openControl(connection);
      const second = await exchange(connection, HELLO);
      expect(second).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST", message: expect.stringContaining("hello was sent twice") })]);
      await control.write(HELLO);
      expect(await reader.next()).toMatchObject({ t: "error", code: "BAD_REQUEST", message: expect.stringContaining("'hello' is not expected on the control stream") });
      await control.write(encodeFrame({ t: "stream-info", id: 3, stream: "none/here" }));
      expect(await reader.next()).toMatchObject({ t: "error", id: 3, code: "STREAM_NOT_FOUND" });
    } finally {
      await connection.close();
    }
  });

  test("after a malformed frame the connection is closing: frames behind it are not read, new streams are refused, then it closes", async () => {
    const connection = await connect();
    try {
      const { stream: control, reader } = await openControl(connection);
      const garbage = Uint8Array.of(0xc1);
      // The malformed frame, and a valid request right behind it that must not be answered.
      await control.write(new Uint8Array([...frameHeader(1), ...garbage, ...encodeFrame({ t: "stream-info", id: 4, stream: "x" })]));
      expect(await reader.next()).toMatchObject({ t: "error", code: "BAD_REQUEST" });
      expect(await reader.next()).toBeNull();
      const late = await exchange(connection, encodeFrame({ t: "chunks-get", hashes: [new Uint8Array(32)] }));
      expect(late).toEqual([expect.objectContaining({ t: "error", code: "UNAVAILABLE", message: expect.stringContaining("closing") })]);
      await connection.closed;
    } finally {
      await connection.close();
    }
  });
});
