import { describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import type { ClientMessage } from "../../core/ucx/control-schemas.ts";
import { clientMessageDecoder, encodeControl, gatewayMessageDecoder } from "../../core/ucx/control-codec.ts";

const decoder = clientMessageDecoder(64 * 1024);

function refused(bytes: Uint8Array): StrataError {
  try {
    decoder.decode(bytes);
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("decoded");
}

describe("UCX control messages", () => {
  test("every client message round-trips", () => {
    const hash = new Uint8Array(32).fill(7);
    const messages: ClientMessage[] = [
      { t: "hello", v: 1, token: "abc" },
      { t: "chunks", id: 3, hashes: [hash, hash] },
      { t: "segment", id: 4, stream: "a/b", partition: 2, base: 100, start: 0, end: 4096 },
      { t: "release", region: 9 },
    ];
    for (const m of messages) {
      expect(decoder.decode(encodeControl(m))).toEqual(m);
    }
  });

  test("gateway answers round-trip", () => {
    const answers = gatewayMessageDecoder(1024);
    const region = { t: "region", id: 1, region: 2, address: 2 ** 47 - 4096, rkey: new Uint8Array([1, 2, 3]), length: 10 } as const;
    expect(answers.decode(encodeControl(region))).toEqual(region);
    const error = { t: "error", id: 0, code: "UNAUTHENTICATED", message: "no token" } as const;
    expect(answers.decode(encodeControl(error))).toEqual(error);
  });

  test("oversized, malformed and invalid messages are refused with a stable code", () => {
    expect(refused(new Uint8Array(64 * 1024 + 1)).code).toBe("PAYLOAD_TOO_LARGE");
    expect(refused(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])).code).toBe("BAD_REQUEST");
    expect(refused(encode({ t: "nope", id: 1 })).code).toBe("BAD_REQUEST");
    const short = refused(encode({ t: "chunks", id: 1, hashes: [new Uint8Array(31)] }));
    expect(short.code).toBe("BAD_REQUEST");
    expect(short.message).toContain("hashes");
    expect(refused(encode({ t: "segment", id: 1, stream: "s", partition: -1, base: 0, start: 0, end: 1 })).code).toBe("BAD_REQUEST");
  });
});
