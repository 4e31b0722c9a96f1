// encode(): a typed message in, the bytes of its frame out. A message may carry MessagePack the
// sender already holds (the edge outbox's encoded records, the gateway's stored record bytes);
// those parts are spliced into the frame as they are, under correctly written MessagePack
// headers, without decoding or copying them.
import { StrataError, invariant } from "../errors.ts";
import { MsgpackWriter } from "../log/msgpack-writer.ts";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, encodeFramePayload, frameHeader, frameTooLarge } from "./frames.ts";
import type { Message, PublishMessage, RecordsMessage } from "./messages.ts";

/** `count` MessagePack values encoded back to back: the items of an array field. */
export class EncodedItems {
  readonly count: number;
  readonly bytes: Uint8Array;

  constructor(count: number, bytes: Uint8Array) {
    invariant(Number.isSafeInteger(count) && count >= 0 && count <= 0xffff_ffff, `an array holds 0 to 2^32-1 items, not ${count}`);
    invariant(count === 0 || bytes.length > 0, "encoded items without bytes");
    this.count = count;
    this.bytes = bytes;
  }
}

/** An encoded MessagePack map whose entries become entries of the frame's map. */
export class EncodedMapEntries {
  readonly count: number;
  /** The entries, after the map's header. */
  readonly entries: Uint8Array;

  constructor(map: Uint8Array) {
    const { count, headerBytes } = readMapHeader(map);
    this.count = count;
    this.entries = map.subarray(headerBytes);
  }
}

/** A publish whose records are already encoded. */
export type EncodedPublishMessage = Omit<PublishMessage, "records"> & { readonly records: EncodedItems };
/** A records answer whose records, next_offset and end_offset are an encoded read response map. */
export type EncodedRecordsMessage = Pick<RecordsMessage, "t" | "id"> & { readonly response: EncodedMapEntries };
export type OutgoingMessage = Message | EncodedPublishMessage | EncodedRecordsMessage;

/** The header of the MessagePack map at the start of `bytes`. */
export function readMapHeader(bytes: Uint8Array): { count: number; headerBytes: number } {
  const first = bytes[0];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (first !== undefined && first >= 0x80 && first <= 0x8f) return { count: first & 0x0f, headerBytes: 1 };
  if (first === 0xde && bytes.length >= 3) return { count: view.getUint16(1), headerBytes: 3 };
  if (first === 0xdf && bytes.length >= 5) return { count: view.getUint32(1), headerBytes: 5 };
  throw new StrataError("INTERNAL", "encoded value is not a MessagePack map");
}

/**
 * The frame of a message as pieces to send back to back (length prefix first). Over the peer's
 * limit it is PAYLOAD_TOO_LARGE and nothing is sent.
 */
export function encodeMessage(message: OutgoingMessage, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array[] {
  const entries = Object.entries(message);
  if (!entries.some(([, value]) => value instanceof EncodedItems || value instanceof EncodedMapEntries)) return [encodeFrame(message, maxFrameBytes)];
  const plain: Record<string, unknown> = {};
  const spliced: Uint8Array[] = [];
  let splicedEntries = 0;
  for (const [key, value] of entries) {
    if (value instanceof EncodedItems) {
      spliced.push(new MsgpackWriter(16 + key.length).str(key).array(value.count).bytes(), value.bytes);
      splicedEntries++;
    } else if (value instanceof EncodedMapEntries) {
      spliced.push(value.entries);
      splicedEntries += value.count;
    } else {
      plain[key] = value;
    }
  }
  const head = encodeFramePayload({ t: message.t, ...plain });
  const { count, headerBytes } = readMapHeader(head);
  const pieces = [new MsgpackWriter(8).map(count + splicedEntries).bytes(), head.subarray(headerBytes), ...spliced];
  const size = piecesLength(pieces);
  if (size > maxFrameBytes) throw frameTooLarge(message.t, size, maxFrameBytes);
  return [frameHeader(size), ...pieces];
}

/** Bytes on the wire of encoded pieces. */
export function piecesLength(pieces: readonly Uint8Array[]): number {
  return pieces.reduce((n, p) => n + p.length, 0);
}
