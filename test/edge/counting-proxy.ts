// A TCP proxy between the edge and the gateway that records when how many bytes crossed it
// (both directions), to measure the edge's bandwidth from outside the process.
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CountingProxy {
  readonly port: number;
  /** [ms since performance.timeOrigin, bytes] for every piece forwarded either way. */
  readonly samples: readonly (readonly [number, number])[];
  close(): Promise<void>;
}

export async function countingProxy(targetPort: number): Promise<CountingProxy> {
  const samples: [number, number][] = [];
  const sockets = new Set<Socket>();
  const count = (n: number): void => {
    samples.push([performance.now(), n]);
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d: Buffer) => {
      count(d.length);
      if (!upstream.write(d)) client.pause();
    });
    upstream.on("drain", () => client.resume());
    upstream.on("data", (d: Buffer) => {
      count(d.length);
      if (!client.write(d)) upstream.pause();
    });
    client.on("drain", () => upstream.resume());
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    samples,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Bytes forwarded in [from, from + windowMs). */
export function bytesIn(samples: readonly (readonly [number, number])[], from: number, windowMs: number): number {
  let n = 0;
  for (const [t, bytes] of samples) if (t >= from && t < from + windowMs) n += bytes;
  return n;
}
