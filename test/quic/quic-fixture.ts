// A real gateway in this process with its QUIC transport on a free loopback UDP port, and
// helpers to talk raw frames to it.
import { encodeFrame, type Frame } from "../../core/quic/frames.ts";
import { FrameReader, type QuicConnection, type QuicDuplex } from "../../core/quic/stream.ts";
import { openGateway, type Gateway } from "../../gateway/gateway.ts";
import type { QuicLimits } from "../../gateway/quic/quic-limits.ts";
import { startQuicServer, type QuicServer } from "../../gateway/quic/server.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

export interface QuicGateway {
  readonly gateway: Gateway;
  readonly quic: QuicServer;
  readonly port: number;
  readonly ca: string;
  readonly fingerprint: string;
  close(): Promise<void>;
}

export async function quicGateway(limits: Partial<QuicLimits> = {}): Promise<QuicGateway> {
  const dataDir = tempDir("strata-quic-");
  const gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  const quic = await startQuicServer(gateway.services, { host: "127.0.0.1", port: 0, dataDir, limits });
  return {
    gateway,
    quic,
    port: quic.listener.port,
    ca: quic.tls.certPem,
    fingerprint: quic.tls.fingerprint,
    async close() {
      await quic.close();
      await gateway.close();
      removeDir(dataDir);
    },
  };
}

/** The frame every raw test client starts its control stream with. */
export const HELLO = encodeFrame({ t: "hello", versions: [1] });

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Opens a stream, writes `pieces`, and reads every frame the gateway answers until it ends the stream. */
export async function exchange(connection: QuicConnection, ...pieces: Uint8Array[]): Promise<Frame[]> {
  const stream = await connection.openBidi();
  for (const piece of pieces) await stream.write(piece);
  const reader = new FrameReader(stream.chunks, 1 << 20);
  const frames: Frame[] = [];
  for (let frame = await reader.next(); frame !== null; frame = await reader.next()) frames.push(frame);
  return frames;
}

/** A control stream on which hello succeeded, and its reader. */
export async function openControl(connection: QuicConnection): Promise<{ stream: QuicDuplex; reader: FrameReader }> {
  const stream = await connection.openBidi();
  const reader = new FrameReader(stream.chunks, 1 << 20);
  await stream.write(HELLO);
  const first = await reader.next();
  if (first?.t !== "hello-ok") throw new Error(`hello answered ${JSON.stringify(first)}`);
  return { stream, reader };
}
