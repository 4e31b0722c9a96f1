// Consumers that follow a fresh stream from its start for publish-to-consumer latency: Strata's
// long-poll read (GET .../records?wait_ms=), a JetStream push consumer (raw protocol) and Redis
// XREAD BLOCK. Each hands every record's payload to `onData` as it arrives.
import { rawPushConsumer } from "../log/jetstream-raw.ts";
import type { PeerName, Servers } from "../log/peers.ts";
import { redisTail } from "../log/redis-streams.ts";
import { strataTail } from "../log/strata-client.ts";
import { RespWire } from "../queues/resp-wire.ts";

export interface Tail {
  stop(): Promise<void>;
}

/** Starts following stream `name` (already created) on `peer`; resolves once the consumer is in place. */
export async function openTail(servers: Servers, peer: PeerName, name: string, onData: (data: Uint8Array) => void): Promise<Tail> {
  switch (peer) {
    case "strata-client-batch":
    case "strata-msgpack":
      return strataTail(servers.gateway.url, name, 0, onData);
    case "jetstream": {
      const c = await rawPushConsumer(servers.natsUrl, name, onData);
      return { stop: async () => c.close() };
    }
    case "redis": {
      const wire = await RespWire.connect("127.0.0.1", servers.redis.port);
      const t = redisTail(wire, name, onData);
      return {
        stop: async () => {
          await t.stop();
          wire.close();
        },
      };
    }
  }
}
