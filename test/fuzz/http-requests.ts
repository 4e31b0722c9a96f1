// Generated HTTP requests for the fuzzing of a real gateway: every route that reads a body or a
// query, with valid-ish bodies (mutated) and raw bytes, in JSON and MessagePack.
import fc from "fast-check";
import { bytesLike, encodeMsgpackValue, fieldsValue, jsonishValue, mutated } from "./arbitraries.ts";

export const FUZZ_STREAM = "fuzz/s";
export const FUZZ_PARTITIONS = 2;
/** Group names requests commit to; the state check reads these. */
export const FUZZ_GROUPS = ["fuzz-g", "g2"] as const;

export interface FuzzRequest {
  readonly method: "GET" | "POST" | "PUT";
  /** Path and query, already encoded. */
  readonly path: string;
  readonly contentType?: string;
  readonly accept?: string;
  readonly body?: Uint8Array;
}

const utf8 = new TextEncoder();
const MSGPACK = "application/msgpack";
const JSON_TYPE = "application/json";

const contentType = fc.oneof({ weight: 6, arbitrary: fc.constant<string | undefined>(undefined) }, fc.constantFrom(JSON_TYPE, MSGPACK, "text/plain", "application/x-msgpack", "application/json; charset=utf-16", "multipart/form-data; boundary=x"));
const accept = fc.constantFrom(undefined, JSON_TYPE, MSGPACK, "*/*", "text/html");
const streamSegment = fc.oneof({ weight: 4, arbitrary: fc.constant(FUZZ_STREAM) }, fc.constantFrom("missing/s", "", "..", "a".repeat(300), "%00", "fuzz/s/../x"), fc.string({ maxLength: 12 }));
const number = fc.oneof(fc.nat(10), fc.integer(), fc.double(), fc.constantFrom(-1, 2 ** 53, 1e309, Number.NaN));

/** A body in the form the content type says (mostly): JSON text or MessagePack, mutated or not. */
function body(value: fc.Arbitrary<unknown>, form: "json" | "msgpack"): fc.Arbitrary<Uint8Array> {
  const encoded = form === "json" ? value.map((v) => utf8.encode(JSON.stringify(v) ?? "null")) : value.map((v) => encodeMsgpackValue(v));
  return fc.oneof({ weight: 2, arbitrary: encoded }, { weight: 3, arbitrary: bytesLike(encoded) });
}

/** A request to `path` whose body is `value` as JSON or MessagePack, with a matching content type most of the time. */
function withBody(method: "POST" | "PUT", path: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    fc.record({ method: fc.constant(method), path, contentType: fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>(JSON_TYPE) }, contentType), accept, body: body(value, "json") }),
    fc.record({ method: fc.constant(method), path, contentType: fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>(MSGPACK) }, contentType), accept, body: body(value, "msgpack") }),
  );
}

const streamPath = (suffix: string) => streamSegment.map((s) => `/v1/streams/${encodeURIComponent(s)}${suffix}`);

/** Mostly what a client would send, sometimes an edge case. */
function mostly<T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: edge });
}

const publishRecord = fc.record(
  { fields: mostly(fieldsValue, fc.dictionary(fc.string({ maxLength: 6 }), jsonishValue, { maxKeys: 3 })), key: fc.string({ maxLength: 6 }), partition: mostly(fc.nat(FUZZ_PARTITIONS - 1), number) },
  { requiredKeys: ["fields"] },
);

const publishBody = fc.record(
  {
    records: mostly(fc.array(publishRecord, { minLength: 1, maxLength: 3 }), jsonishValue),
    producer: mostly(fc.record({ id: fc.nat(), epoch: fc.nat(3), seq: fc.nat(3) }), fc.record({ id: number, epoch: number, seq: number })),
  },
  { requiredKeys: ["records"] },
);

const createBody = fc.record(
  { name: fc.oneof(fc.string({ maxLength: 10 }).map((s) => `fuzz/${s}`), fc.constant(FUZZ_STREAM), fc.string({ maxLength: 10 })), partitions: mostly(fc.integer({ min: 1, max: 3 }), number), retention: fc.record({ ms: number, bytes: number }, { requiredKeys: [] }) },
  { requiredKeys: [] },
);

const commitBody = fc.record({ stream: streamSegment, partition: mostly(fc.nat(FUZZ_PARTITIONS - 1), number), offset: mostly(fc.nat(3), number) }, { requiredKeys: [] });

const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });
const hash = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }), hex64, fc.string({ maxLength: 8 }));
const hashesBody = fc.record({ hashes: fc.oneof(fc.array(hash, { maxLength: 4 }), jsonishValue) }, { requiredKeys: [] });
const chunksBody = fc.record({ chunks: fc.array(fc.tuple(hash, fc.uint8Array({ maxLength: 64 })), { maxLength: 3 }) });

const query = fc
  .record({ offset: number, max_records: number, max_bytes: number, wait_ms: fc.constantFrom(0, -1, 1e9, Number.NaN), fields: fc.string({ maxLength: 8 }), acks: fc.constantFrom("local", "durable", "x") }, { requiredKeys: [] })
  .map((q) => {
    const entries = Object.entries(q).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
    return entries.length === 0 ? "" : `?${entries.join("&")}`;
  });

const manifestId = fc.oneof(hex64, fc.string({ maxLength: 10 }));

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 4, arbitrary: withBody("POST", fc.tuple(streamPath("/records"), query).map(([p, q]) => p + q), publishBody) },
  { weight: 2, arbitrary: withBody("POST", fc.constant("/v1/streams"), createBody) },
  { weight: 2, arbitrary: withBody("POST", fc.constantFrom(...FUZZ_GROUPS, "", "..").map((g) => `/v1/groups/${encodeURIComponent(g)}/offsets`), commitBody) },
  { weight: 2, arbitrary: fc.record({ method: fc.constant("GET" as const), path: fc.tuple(streamPath(""), fc.oneof(fc.nat(FUZZ_PARTITIONS), number), query).map(([p, n, q]) => `${p}/partitions/${encodeURIComponent(String(n))}/records${q}`), accept }) },
  { weight: 1, arbitrary: withBody("POST", fc.constantFrom("/v1/chunks/missing", "/v1/chunks/get"), hashesBody) },
  { weight: 1, arbitrary: withBody("PUT", fc.constant("/v1/chunks"), chunksBody) },
  { weight: 1, arbitrary: fc.record({ method: fc.constant("PUT" as const), path: manifestId.map((id) => `/v1/manifests/${encodeURIComponent(id)}`), contentType: fc.constant(MSGPACK), body: mutated(fc.uint8Array({ maxLength: 64 })) }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom("GET" as const, "POST" as const), path: fc.constantFrom("/v1/streams", `/v1/groups/fuzz-g/offsets?stream=${encodeURIComponent(FUZZ_STREAM)}`, "/v1/nothing"), contentType, body: fc.uint8Array({ maxLength: 64 }) }) },
);
