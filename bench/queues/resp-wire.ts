// A minimal Redis (RESP2) client over one TCP socket, for the queue bench's Redis Streams side:
// commands as arrays of bulk strings, replies (simple strings, errors, integers, bulk strings,
// arrays) parsed incrementally and matched to commands in order. Pipelined: `send` writes any
// number of commands in one socket write and answers a promise per reply, so the client never
// waits a round trip per command and its CPU stays small beside the server's.
import { connect, type Socket } from "node:net";

export type RespReply = string | number | Buffer | null | RespError | RespReply[];

export class RespError extends Error {}

/** One parsed reply and where it ends, or undefined when the buffer holds only part of it. */
type Parsed = { readonly value: RespReply; readonly end: number } | undefined;

function lineEnd(buf: Buffer, from: number): number {
  const at = buf.indexOf(13, from); // \r, followed by \n
  return at < 0 || at + 1 >= buf.length ? -1 : at;
}

function parse(buf: Buffer, at: number): Parsed {
  if (at >= buf.length) return undefined;
  const eol = lineEnd(buf, at + 1);
  if (eol < 0) return undefined;
  const line = buf.toString("latin1", at + 1, eol);
  const next = eol + 2;
  switch (buf[at]) {
    case 0x2b: // +
      return { value: line, end: next };
    case 0x2d: // -
      return { value: new RespError(line), end: next };
    case 0x3a: // :
      return { value: Number(line), end: next };
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (next + n + 2 > buf.length) return undefined;
      return { value: buf.subarray(next, next + n), end: next + n + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, pos);
        if (item === undefined) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`RESP: unexpected type byte ${buf[at]}`);
  }
}

/** A command in RESP's request form: an array of bulk strings. */
export function encodeCommand(args: readonly (string | number | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg) : typeof arg === "number" ? Buffer.from(String(arg)) : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

export class RespWire {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  readonly #waiting: { resolve(reply: RespReply): void; reject(e: Error): void }[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (e) => {
      for (const w of this.#waiting.splice(0)) w.reject(e);
    });
  }

  static async connect(host: string, port: number): Promise<RespWire> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(s));
      s.once("error", reject);
    });
    return new RespWire(socket);
  }

  /** Writes already encoded commands in one write; a promise per reply, in order. */
  sendEncoded(frames: readonly Buffer[]): Promise<RespReply>[] {
    const replies = frames.map(() => new Promise<RespReply>((resolve, reject) => this.#waiting.push({ resolve, reject })));
    this.#socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    return replies;
  }

  /** Writes the commands in one write; a promise per reply, in order. */
  send(commands: readonly (readonly (string | number | Uint8Array)[])[]): Promise<RespReply>[] {
    return this.sendEncoded(commands.map(encodeCommand));
  }

  /** One command's reply; a server error rejects. */
  async call(...args: (string | number | Uint8Array)[]): Promise<RespReply> {
    const reply = await this.send([args])[0]!;
    if (reply instanceof RespError) throw reply;
    return reply;
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let at = 0;
    for (;;) {
      const parsed = parse(this.#pending, at);
      if (parsed === undefined) break;
      at = parsed.end;
      const waiter = this.#waiting.shift();
      if (waiter === undefined) throw new Error("RESP: a reply nobody asked for");
      waiter.resolve(parsed.value);
    }
    this.#pending = at === this.#pending.length ? Buffer.alloc(0) : this.#pending.subarray(at);
  }
}
