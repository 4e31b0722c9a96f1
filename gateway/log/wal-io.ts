// The file operations of the WAL (open, positional write and writev, fsync and fdatasync,
// truncate, rename, close) behind one small interface. The gateway uses node:fs; tests wrap it
// to make a write or a sync fail with EIO or ENOSPC on a real WAL directory.
import { open, rename } from "node:fs/promises";

/** Positional reads: all that readAt and scanSource need of a file. */
export interface PositionalFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** An open WAL file (or a directory opened to be synced). node:fs FileHandle is one. */
export interface WalFileHandle extends PositionalFile {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  /** fsync: data and metadata. */
  sync(): Promise<void>;
  /** fdatasync: data, and the metadata needed to read it back. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface WalIo {
  /** `flags` are node:fs open flags (O_DSYNC on a WAL file: every write is durable when it returns). */
  open(path: string, flags: number, mode?: number): Promise<WalFileHandle>;
  rename(from: string, to: string): Promise<void>;
}

/** The real file system. */
export const nodeWalIo: WalIo = Object.freeze({
  open: (path: string, flags: number, mode?: number): Promise<WalFileHandle> => open(path, flags, mode),
  rename: (from: string, to: string): Promise<void> => rename(from, to),
});
