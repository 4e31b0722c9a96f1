// Encoding and bounded decoding of UCX control messages (control-schemas.ts). A message is one
// MessagePack map; decoding checks the size first (PAYLOAD_TOO_LARGE), then the MessagePack
// bounds (no claim larger than the message), then the schema (BAD_REQUEST naming the field).
import { encode } from "@msgpack/msgpack";
import type * as z from "zod/mini";
import { StrataError } from "../errors.ts";
import { BoundedMsgpackDecoder, msgpackCapsFor } from "../log/msgpack-bounds.ts";
import { describeIssues } from "../util/parse-input.ts";
import { clientMessageSchema, gatewayMessageSchema, type ClientMessage, type GatewayMessage } from "./control-schemas.ts";

/** Containers in a control message: the map and one array of hashes. */
const CONTROL_DEPTH = 2;

/** A control message's bytes. */
export function encodeControl(message: ClientMessage | GatewayMessage): Uint8Array {
  return encode(message);
}

/** Decodes control messages of one direction, at most `maxBytes` each. */
export class ControlDecoder<T> {
  readonly #maxBytes: number;
  readonly #decoder: BoundedMsgpackDecoder;
  readonly #schema: z.ZodMiniType<T>;

  constructor(schema: z.ZodMiniType<T>, maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#decoder = new BoundedMsgpackDecoder(msgpackCapsFor(maxBytes, CONTROL_DEPTH));
    this.#schema = schema;
  }

  decode(bytes: Uint8Array): T {
    if (bytes.length > this.#maxBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `control message of ${bytes.length} bytes; the limit is ${this.#maxBytes}`);
    const value = this.#decoder.decode(bytes);
    const parsed = this.#schema.safeParse(value);
    if (!parsed.success) {
      const t = typeof value === "object" && value !== null && "t" in value && typeof value.t === "string" ? `'${value.t.slice(0, 32)}' ` : "";
      throw new StrataError("BAD_REQUEST", `${t}control message: ${describeIssues(parsed.error.issues)}`);
    }
    return parsed.data;
  }
}

/** The gateway's decoder of what clients send. */
export function clientMessageDecoder(maxBytes: number): ControlDecoder<ClientMessage> {
  return new ControlDecoder(clientMessageSchema, maxBytes);
}

/** A client's decoder of what the gateway sends (answers carry inline data, so their bound is the inline threshold plus framing). */
export function gatewayMessageDecoder(maxBytes: number): ControlDecoder<GatewayMessage> {
  return new ControlDecoder(gatewayMessageSchema, maxBytes);
}
