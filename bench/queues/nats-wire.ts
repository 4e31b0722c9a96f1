// A minimal NATS protocol client over one TCP socket, for the queue bench's JetStream side:
// CONNECT, PING/PONG, SUB, PUB (with a reply subject), and the MSG / HMSG frames the server
// sends back. Written against the protocol text (docs.nats.io "Client Protocol") so that the
// bench measures the server, not the `nats` npm client's per-message CPU.
import { connect, type Socket } from "node:net";

export interface NatsMessage {
  readonly subject: string;
  readonly reply: string | undefined;
  /** The header block of an HMSG (e.g. "NATS/1.0 404 No Messages\r\n\r\n"), else undefined. */
  readonly headers: string | undefined;
  readonly data: Buffer;
}

type Handler = (message: NatsMessage) => void;

const CRLF = Buffer.from("\r\n");

export class NatsWire {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  readonly #handlers = new Map<number, Handler>();
  readonly #pongs: (() => void)[] = [];
  #nextSid = 1;
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (e) => (this.#failure = e));
  }

  /** Connects to `nats://host:port` and completes the handshake (INFO, CONNECT, PING/PONG). */
  static async connect(url: string): Promise<NatsWire> {
    const { hostname, port } = new URL(url);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: hostname, port: Number(port) }, () => resolve(s));
      s.once("error", reject);
    });
    const wire = new NatsWire(socket);
    socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, lang: "bench", version: "0" })}\r\n`);
    await wire.flush();
    return wire;
  }

  /** Subscribes `handler` to `subject` (wildcards allowed); answers the subscription id. */
  subscribe(subject: string, handler: Handler): number {
    const sid = this.#nextSid++;
    this.#handlers.set(sid, handler);
    this.#socket.write(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  /** One PUB frame, as text to batch several into one write. */
  static pubFrame(subject: string, reply: string | undefined, data: Uint8Array | string): Buffer {
    const body = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return Buffer.concat([Buffer.from(`PUB ${subject}${reply ? ` ${reply}` : ""} ${body.length}\r\n`), body, CRLF]);
  }

  /** Writes frames (from pubFrame) in one socket write. */
  write(frames: Buffer | readonly Buffer[]): void {
    this.#check();
    this.#socket.write(Buffer.isBuffer(frames) ? frames : Buffer.concat(frames));
  }

  publish(subject: string, reply: string | undefined, data: Uint8Array | string): void {
    this.write(NatsWire.pubFrame(subject, reply, data));
  }

  /** Resolves when the server has processed everything sent before (PING answered by PONG). */
  flush(): Promise<void> {
    this.#check();
    return new Promise((resolve) => {
      this.#pongs.push(resolve);
      this.#socket.write("PING\r\n");
    });
  }

  /** One request/reply on a fresh inbox, with the answer's data parsed as JSON. */
  async requestJson(subject: string, body: unknown, timeoutMs = 10_000): Promise<unknown> {
    const inbox = `_INBOX.${Math.random().toString(36).slice(2)}`;
    const answer = new Promise<NatsMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${subject} within ${timeoutMs} ms`)), timeoutMs);
      const sid = this.subscribe(inbox, (m) => {
        clearTimeout(timer);
        this.#handlers.delete(sid);
        this.#socket.write(`UNSUB ${sid}\r\n`);
        resolve(m);
      });
    });
    this.publish(subject, inbox, JSON.stringify(body));
    const m = await answer;
    if (m.headers !== undefined && m.data.length === 0) throw new Error(`${subject}: ${m.headers.split("\r\n")[0]}`);
    return JSON.parse(m.data.toString("utf8"));
  }

  close(): void {
    this.#socket.destroy();
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #receive(chunk: Buffer): void {
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const eol = buf.indexOf(CRLF, pos);
      if (eol < 0) break;
      const line = buf.toString("latin1", pos, eol);
      if (line.startsWith("MSG ") || line.startsWith("HMSG ")) {
        const parts = line.split(" ");
        const isH = parts[0] === "HMSG";
        // MSG subject sid [reply] size | HMSG subject sid [reply] hdr_size total_size
        const fixed = isH ? 5 : 4;
        const reply = parts.length > fixed ? parts[3] : undefined;
        const total = Number(parts[parts.length - 1]);
        const headerBytes = isH ? Number(parts[parts.length - 2]) : 0;
        const start = eol + 2;
        if (buf.length < start + total + 2) break; // the payload has not all arrived yet
        const payload = buf.subarray(start, start + total);
        const handler = this.#handlers.get(Number(parts[2]));
        handler?.({
          subject: parts[1]!,
          reply,
          headers: isH ? payload.toString("latin1", 0, headerBytes) : undefined,
          data: payload.subarray(headerBytes),
        });
        pos = start + total + 2;
        continue;
      }
      pos = eol + 2;
      if (line === "PING") this.#socket.write("PONG\r\n");
      else if (line === "PONG") this.#pongs.shift()?.();
      else if (line.startsWith("-ERR")) this.#failure = new Error(`nats-server: ${line}`);
      // INFO and +OK need nothing.
    }
    this.#pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
  }
}
