// A UDP proxy on loopback between QUIC clients and a gateway: a real network element that can
// drop (probability), delay (ms plus jitter), reorder (hold a datagram and send it after the
// next one), duplicate, and black-hole datagrams, each switchable at run time and per direction
// ("up": client → gateway, "down": gateway → client). Every client address gets its own upstream
// socket, as a NAT would. Held and delayed datagrams are bounded (past the bound they are
// dropped and counted); stop() closes every socket and cancels every timer.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

export type Direction = "up" | "down";

export interface Impairment {
  /** Probability in [0, 1] that a datagram is dropped. */
  drop: number;
  /** Fixed delay in ms before a datagram is forwarded. */
  delayMs: number;
  /** Uniform extra delay in [0, jitterMs) ms (jitter alone also reorders). */
  jitterMs: number;
  /** Probability that a datagram is held and sent right after the next one (a swap). */
  reorder: number;
  /** Probability that a datagram is sent twice. */
  duplicate: number;
  /** While true every datagram in this direction is discarded. */
  blackhole: boolean;
}

export interface DirectionCounters {
  received: number;
  forwarded: number;
  dropped: number;
  blackholed: number;
  delayed: number;
  reordered: number;
  duplicated: number;
  /** Dropped because the queue of delayed or held datagrams was full. */
  overflow: number;
}

export interface UdpProxyOptions {
  /** Gateway address to forward to. */
  readonly targetHost?: string;
  readonly targetPort: number;
  /** Port to listen on (0: any free one); loopback only. */
  readonly listenPort?: number;
  /** Most datagrams waiting in delay or reorder queues per direction (default 4096). */
  readonly maxQueued?: number;
  /** Most distinct client addresses (default 64); datagrams from more are dropped. */
  readonly maxClients?: number;
  readonly up?: Partial<Impairment>;
  readonly down?: Partial<Impairment>;
}

const NONE: Impairment = { drop: 0, delayMs: 0, jitterMs: 0, reorder: 0, duplicate: 0, blackhole: false };
const LOOPBACK = "127.0.0.1";

interface Client {
  readonly address: string;
  readonly port: number;
  readonly upstream: Socket;
}

interface Lane {
  impairment: Impairment;
  readonly counters: DirectionCounters;
  /** Delayed datagrams in flight (timers pending). */
  queued: number;
  /** A datagram held for a swap, and its sender. */
  held: { data: Buffer; send: (data: Buffer) => void; timer: ReturnType<typeof setTimeout> } | null;
}

function zeroCounters(): DirectionCounters {
  return { received: 0, forwarded: 0, dropped: 0, blackholed: 0, delayed: 0, reordered: 0, duplicated: 0, overflow: 0 };
}

/** The longest a held datagram waits for a successor before it is sent anyway. */
const MAX_HOLD_MS = 50;

export class UdpProxy {
  readonly #options: UdpProxyOptions;
  readonly #front: Socket;
  readonly #clients = new Map<string, Client>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #lanes: Record<Direction, Lane>;
  readonly #maxQueued: number;
  readonly #maxClients: number;
  #stopped = false;
  port = 0;

  private constructor(options: UdpProxyOptions) {
    this.#options = options;
    this.#maxQueued = options.maxQueued ?? 4096;
    this.#maxClients = options.maxClients ?? 64;
    this.#lanes = {
      up: { impairment: { ...NONE, ...options.up }, counters: zeroCounters(), queued: 0, held: null },
      down: { impairment: { ...NONE, ...options.down }, counters: zeroCounters(), queued: 0, held: null },
    };
    this.#front = createSocket("udp4");
  }

  static async start(options: UdpProxyOptions): Promise<UdpProxy> {
    const proxy = new UdpProxy(options);
    await proxy.#listen();
    return proxy;
  }

  async #listen(): Promise<void> {
    this.#front.on("message", (data: Buffer, from: RemoteInfo) => this.#fromClient(data, from));
    this.#front.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      this.#front.once("error", reject);
      this.#front.bind(this.#options.listenPort ?? 0, LOOPBACK, () => {
        this.#front.off("error", reject);
        resolve();
      });
    });
    this.port = this.#front.address().port;
  }

  /** Changes one direction's impairment (the fields given); "both" changes the two. */
  set(direction: Direction | "both", impairment: Partial<Impairment>): void {
    for (const d of direction === "both" ? (["up", "down"] as const) : [direction]) {
      this.#lanes[d].impairment = { ...this.#lanes[d].impairment, ...impairment };
    }
  }

  /** Starts or ends a black hole in both directions. */
  blackhole(on: boolean): void {
    this.set("both", { blackhole: on });
  }

  /** A snapshot of the counters. */
  counters(): Record<Direction, DirectionCounters> {
    return { up: { ...this.#lanes.up.counters }, down: { ...this.#lanes.down.counters } };
  }

  /**
   * Sends `data` as if it were part of every proxied connection: "up" from each client's
   * upstream socket to the gateway, "down" from the proxy's port to each client. Not counted.
   */
  inject(direction: Direction, data: Uint8Array): number {
    if (this.#stopped) return 0;
    let sent = 0;
    for (const client of this.#clients.values()) {
      try {
        if (direction === "up") client.upstream.send(data, this.#options.targetPort, this.#options.targetHost ?? LOOPBACK, () => undefined);
        else this.#front.send(data, client.port, client.address, () => undefined);
        sent++;
      } catch {
        // socket closed meanwhile
      }
    }
    return sent;
  }

  get clients(): number {
    return this.#clients.size;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const lane of Object.values(this.#lanes)) {
      if (lane.held) clearTimeout(lane.held.timer);
      lane.held = null;
    }
    const sockets = [this.#front, ...[...this.#clients.values()].map((c) => c.upstream)];
    this.#clients.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }

  #fromClient(data: Buffer, from: RemoteInfo): void {
    if (this.#stopped) return;
    const key = `${from.address}:${from.port}`;
    let client = this.#clients.get(key);
    if (!client) {
      if (this.#clients.size >= this.#maxClients) {
        this.#lanes.up.counters.received++;
        this.#lanes.up.counters.overflow++;
        return;
      }
      const upstream = createSocket("udp4");
      upstream.on("error", () => undefined);
      const created: Client = { address: from.address, port: from.port, upstream };
      upstream.on("message", (reply: Buffer) => {
        if (this.#stopped) return;
        this.#impair("down", reply, (d) => this.#front.send(d, created.port, created.address, () => undefined));
      });
      // Bound on send: an unbound socket binds to an ephemeral port itself; loopback only.
      upstream.bind(0, LOOPBACK);
      this.#clients.set(key, created);
      client = created;
    }
    const upstream = client.upstream;
    this.#impair("up", data, (d) => upstream.send(d, this.#options.targetPort, this.#options.targetHost ?? LOOPBACK, () => undefined));
  }

  #impair(direction: Direction, data: Buffer, send: (data: Buffer) => void): void {
    const lane = this.#lanes[direction];
    const { counters } = lane;
    const imp = lane.impairment;
    counters.received++;
    if (imp.blackhole) {
      counters.blackholed++;
      return;
    }
    if (imp.drop > 0 && Math.random() < imp.drop) {
      counters.dropped++;
      return;
    }
    const copies = imp.duplicate > 0 && Math.random() < imp.duplicate ? 2 : 1;
    if (copies === 2) counters.duplicated++;
    for (let i = 0; i < copies; i++) this.#delayThenSend(lane, data, send);
  }

  #delayThenSend(lane: Lane, data: Buffer, send: (data: Buffer) => void): void {
    const imp = lane.impairment;
    const delay = imp.delayMs + (imp.jitterMs > 0 ? Math.random() * imp.jitterMs : 0);
    if (delay <= 0) return this.#reorderThenSend(lane, data, send);
    if (lane.queued >= this.#maxQueued) {
      lane.counters.overflow++;
      return;
    }
    lane.queued++;
    lane.counters.delayed++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      lane.queued--;
      if (!this.#stopped) this.#reorderThenSend(lane, data, send);
    }, delay);
    this.#timers.add(timer);
  }

  /** Either holds the datagram for a swap, or sends it (and then a held one, swapped). */
  #reorderThenSend(lane: Lane, data: Buffer, send: (data: Buffer) => void): void {
    const imp = lane.impairment;
    // A black hole switched on while the datagram was delayed still swallows it.
    if (imp.blackhole) {
      lane.counters.blackholed++;
      return;
    }
    const held = lane.held;
    if (!held && imp.reorder > 0 && Math.random() < imp.reorder) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (lane.held?.timer !== timer) return;
        lane.held = null;
        if (!this.#stopped) this.#forward(lane, data, send);
      }, MAX_HOLD_MS);
      this.#timers.add(timer);
      lane.held = { data, send, timer };
      return;
    }
    this.#forward(lane, data, send);
    if (held) {
      lane.held = null;
      clearTimeout(held.timer);
      this.#timers.delete(held.timer);
      lane.counters.reordered++;
      this.#forward(lane, held.data, held.send);
    }
  }

  #forward(lane: Lane, data: Buffer, send: (data: Buffer) => void): void {
    lane.counters.forwarded++;
    try {
      send(data);
    } catch {
      // socket closed meanwhile
    }
  }
}
