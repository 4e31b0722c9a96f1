// A WalIo over the real file system that fails chosen operations the way a failing disk does:
//
//   write EIO     the write fails before any byte reaches the file
//   write ENOSPC  the write stores a prefix of its bytes (a short write), and the call that would
//                 write the rest fails: the file ends in a torn batch
//   write SHORT   the write stores a prefix of its bytes and says so (no error): the caller must
//                 write the rest itself
//   sync EIO/ENOSPC  the bytes reach the file but their sync fails: an O_DSYNC write (the WAL's
//                 durable write) writes and then fails, as do fsync and fdatasync calls
//
// Faults are armed for the paths a predicate picks (say, one partition's files) and fire once
// each, after `skip` matching operations have succeeded.
import { nodeWalIo, type WalFileHandle, type WalIo } from "../../gateway/log/wal-io.ts";
import { constants } from "node:fs";

export type FaultCode = "EIO" | "ENOSPC";
/** A fault that is no error: a write that stores only part of its bytes. */
export type ShortWrite = "SHORT";

export interface Fault {
  readonly op: "write" | "sync";
  readonly code: FaultCode | ShortWrite;
  /** The files (or directories, for their fsync) affected. */
  readonly where: (path: string) => boolean;
  /** Matching operations that succeed before the fault fires (default 0). */
  readonly skip?: number;
}

interface Armed {
  readonly fault: Fault;
  skip: number;
}

export class FaultyWalIo implements WalIo {
  readonly #armed: Armed[] = [];
  /** Faults that fired, in order: what failed where. */
  readonly fired: Array<{ readonly op: Fault["op"]; readonly code: Fault["code"]; readonly path: string }> = [];

  arm(fault: Fault): void {
    this.#armed.push({ fault, skip: fault.skip ?? 0 });
  }

  get pending(): number {
    return this.#armed.length;
  }

  async open(path: string, flags: number, mode?: number): Promise<WalFileHandle> {
    const handle = await nodeWalIo.open(path, flags, mode);
    return new FaultyHandle(this, path, handle, (flags & constants.O_DSYNC) !== 0);
  }

  rename(from: string, to: string): Promise<void> {
    return nodeWalIo.rename(from, to);
  }

  /** The fault to raise now for `op` on `path`, if one is armed and due (it is then disarmed). */
  take(op: Fault["op"], path: string): Fault["code"] | undefined {
    const i = this.#armed.findIndex((a) => a.fault.op === op && a.fault.where(path));
    if (i < 0) return undefined;
    const armed = this.#armed[i]!;
    if (armed.skip > 0) {
      armed.skip--;
      return undefined;
    }
    this.#armed.splice(i, 1);
    this.fired.push({ op, code: armed.fault.code, path });
    return armed.fault.code;
  }

}

function ioError(code: FaultCode, syscall: string, path: string): Error {
  const errno = code === "EIO" ? -5 : -28;
  const text = code === "EIO" ? "i/o error" : "no space left on device";
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}' (injected)`), { code, errno, syscall, path });
}

class FaultyHandle implements WalFileHandle {
  /** Set by a short write: the next write on this file fails with it. */
  #failNext: FaultCode | undefined;

  constructor(
    private readonly io: FaultyWalIo,
    private readonly path: string,
    private readonly real: WalFileHandle,
    /** Opened with O_DSYNC: every write is also a sync. */
    private readonly dsync: boolean,
  ) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.real.read(buffer, offset, length, position);
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return this.#write([buffer.subarray(offset, offset + length)], position, "write");
  }

  async writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    return this.#write(buffers, position, "writev");
  }

  async sync(): Promise<void> {
    const code = this.io.take("sync", this.path);
    if (code && code !== "SHORT") throw ioError(code, "fsync", this.path);
    await this.real.sync();
  }

  async datasync(): Promise<void> {
    const code = this.io.take("sync", this.path);
    if (code && code !== "SHORT") throw ioError(code, "fdatasync", this.path);
    await this.real.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.real.truncate(length);
  }

  stat(): Promise<{ size: number }> {
    return this.real.stat();
  }

  close(): Promise<void> {
    return this.real.close();
  }

  async #write(buffers: Uint8Array[], position: number, syscall: string): Promise<{ bytesWritten: number }> {
    const total = buffers.reduce((n, b) => n + b.length, 0);
    if (this.#failNext) {
      const failed = this.#failNext;
      this.#failNext = undefined;
      throw ioError(failed, syscall, this.path);
    }
    const code = this.io.take("write", this.path);
    if (code === "ENOSPC" && total > 1) {
      // The disk fills up part-way: a short write now, and the call for the rest fails.
      this.#failNext = code;
      return this.real.writev(prefix(buffers, Math.floor(total / 2)), position);
    }
    if (code === "SHORT" && total > 1) return this.real.writev(prefix(buffers, Math.floor(total / 2)), position);
    if (code && code !== "SHORT") throw ioError(code, syscall, this.path);
    // Which write's sync fails is decided in call order, not in the order pipelined writes finish.
    const syncCode = this.dsync ? this.io.take("sync", this.path) : undefined;
    const written = await this.real.writev(buffers, position);
    if (syncCode && syncCode !== "SHORT") throw ioError(syncCode, syscall, this.path); // written, but not known to be durable
    return written;
  }
}

/** The first `bytes` bytes of `buffers`, as views. */
function prefix(buffers: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let left = bytes;
  for (const b of buffers) {
    if (left <= 0) break;
    out.push(b.subarray(0, Math.min(b.length, left)));
    left -= b.length;
  }
  return out;
}
