// Receipts: one per delivery. `<partition>.<offset>.<delivery>.<nonce>.<stream>` — the position
// locates the record, the delivery number and a random nonce make it unguessable and tell a
// stale receipt (the record was redelivered since) from the current one. Stream names contain
// no character a receipt could confuse with its separators' order (the stream comes last).
import { randomBytes } from "node:crypto";
import { isValidStreamName } from "../../core/log/stream-name.ts";

export interface ReceiptParts {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly delivery: number;
}

const NONCE_BYTES = 12;
const RECEIPT = /^(\d{1,10})\.(\d{1,16})\.(\d{1,10})\.([0-9a-f]+)\.(.+)$/;

export function newReceipt(parts: ReceiptParts): string {
  return `${parts.partition}.${parts.offset}.${parts.delivery}.${randomBytes(NONCE_BYTES).toString("hex")}.${parts.stream}`;
}

/** The delivery a receipt names, or undefined when it is not a receipt at all. */
export function parseReceipt(receipt: string): ReceiptParts | undefined {
  const m = RECEIPT.exec(receipt);
  if (m === null) return undefined;
  const stream = m[5]!;
  if (!isValidStreamName(stream)) return undefined;
  const [partition, offset, delivery] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![partition, offset, delivery].every(Number.isSafeInteger)) return undefined;
  return { stream, partition, offset, delivery };
}
