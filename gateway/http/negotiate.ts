// Request and response bodies in JSON or MessagePack, chosen by Content-Type and Accept.
import { Decoder, Encoder } from "@msgpack/msgpack";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { BodyForm } from "../../core/log/publish-request.ts";

export const MSGPACK = "application/msgpack";
const MSGPACK_TYPES = new Set([MSGPACK, "application/x-msgpack", "application/vnd.msgpack"]);

const decoder = new Decoder({ extensionCodec, maxStrLength: 64 * 1024 * 1024, maxBinLength: 1024 * 1024 * 1024, maxArrayLength: 1_000_000, maxMapLength: 100_000, maxExtLength: 1024 * 1024 * 1024 });
const encoder = new Encoder({ extensionCodec, ignoreUndefined: true, initialBufferSize: 64 * 1024 });

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The request body's form: MessagePack when its Content-Type says so, JSON otherwise. */
export function requestForm(c: Context): BodyForm {
  return MSGPACK_TYPES.has(mediaType(c.req.header("content-type"))) ? "msgpack" : "json";
}

/** Whether the client asked for MessagePack (Accept lists a MessagePack type). */
export function wantsMsgpack(c: Context): boolean {
  const accept = c.req.header("accept");
  if (!accept) return false;
  return accept.split(",").some((part) => MSGPACK_TYPES.has(mediaType(part)));
}

/** Reads and decodes the body; malformed input is a BAD_REQUEST, never a crash. */
export async function readBody(c: Context): Promise<{ form: BodyForm; value: unknown }> {
  const form = requestForm(c);
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new StrataError("BAD_REQUEST", "request body is empty");
  try {
    if (form === "msgpack") return { form, value: decoder.decode(bytes) };
    return { form, value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw new StrataError("BAD_REQUEST", `malformed ${form === "msgpack" ? "MessagePack" : "JSON"} body: ${(e as Error).message}`);
  }
}

export function encodeMsgpack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Encodes a MessagePack response; the JSON form is the caller's `c.json(...)`. */
export function msgpackResponse(value: unknown, status: ContentfulStatusCode = 200): Response {
  return new Response(encodeMsgpack(value) as Uint8Array<ArrayBuffer>, { status, headers: { "content-type": MSGPACK } });
}
