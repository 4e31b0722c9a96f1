// Server-side record filters: a Common Expression Language (CEL) expression over a record,
// evaluated with @bufbuild/cel. The API other services use (reads, groups, queues, datasets):
//
//   const filter = compileFilter(expression, limits);  // once per request; BAD_FILTER (400) with line:column
//   filter.matches(record)                             // a decoded LogRecord
//   filter.matchesRaw(raw)                             // a RawRecord located in its batch: decodes only what the expression reads
//
// Variables (docs/filters.md): `fields` (the record's fields map), `headers` (map of string to
// string or bytes), `key` (bytes, or null), `key_string` (the key as UTF-8 text, or null when it
// is absent or not UTF-8), `timestamp` (int, milliseconds since the epoch). A record matches only
// when the expression evaluates to exactly `true`: a non-bool result or an evaluation error (a
// missing field, a type mismatch) means the record does not match, never a failed request.
import { celEnv, isCelError, parse, plan, type CelInput } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { Decoder } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { RawRecord } from "../../core/log/batch.ts";
import { isStoredTombstone, type Fields, type Headers, type LogRecord } from "../../core/log/record.ts";
import { celHeaders, celMapOf, celMapOfNames } from "./cel-values.ts";
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from "./filter-limits.ts";
import { filterShape, lineColumn, type FilterShape } from "./filter-shape.ts";

export interface RecordFilter {
  /** The expression as given. */
  readonly expression: string;
  /** Whether a decoded record matches. */
  matches(record: LogRecord): boolean;
  /** Whether a stored record matches, decoding only the parts the expression reads. */
  matchesRaw(record: RawRecord): boolean;
}

/** The evaluation environment: the standard library and the strings extension (lowerAscii, indexOf, ...). */
const env = celEnv({ funcs: strings });
const decoder = new Decoder({ extensionCodec });
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

type Bindings = Record<string, CelInput>;

/** Parses and checks an expression once; throws BAD_FILTER naming the problem and its position. */
export function compileFilter(expression: string, limits: Pick<FilterLimits, "maxFilterBytes" | "maxFilterComprehensionDepth"> = DEFAULT_FILTER_LIMITS): RecordFilter {
  const bytes = utf8Length(expression);
  if (bytes > limits.maxFilterBytes) throw new StrataError("BAD_FILTER", `filter is ${bytes} bytes; the limit is ${limits.maxFilterBytes}`);
  if (expression.trim() === "") throw new StrataError("BAD_FILTER", "filter is empty");
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (e) {
    throw new StrataError("BAD_FILTER", `filter ${syntaxErrorText(e, expression)}`, { cause: e });
  }
  const shape = filterShape(parsed, expression, env, limits.maxFilterComprehensionDepth);
  const evaluate = plan(env, parsed);
  const judge = (bindings: Bindings): boolean => {
    try {
      const result = evaluate(bindings);
      return !isCelError(result) && result === true;
    } catch {
      return false; // an evaluation the library could not carry out is a record it cannot judge
    }
  };
  return {
    expression,
    // A tombstone's fields (null, docs/compaction.md) bind as an empty map.
    matches: (record) => judge(bindingsOf(shape, record.timestamp, record.key, () => record.headers, () => record.fields ?? NO_FIELDS)),
    matchesRaw: (record) =>
      judge(
        bindingsOf(
          shape,
          record.timestamp,
          shape.variables.has("key") || shape.variables.has("key_string") ? rawKey(record) : null,
          () => decodeMap<Headers>(record, record.headers),
          () => (isStoredTombstone(record) ? NO_FIELDS : decodeMap<Fields>(record, record.fields)),
        ),
      ),
  };
}

function bindingsOf(shape: FilterShape, timestamp: number, key: Uint8Array | null, headers: () => Headers, fields: () => Fields): Bindings {
  const bindings: Bindings = {};
  const used = shape.variables;
  if (used.has("fields")) bindings.fields = shape.fieldNames === null ? celMapOf(fields()) : celMapOfNames(fields(), shape.fieldNames);
  if (used.has("headers")) bindings.headers = celHeaders(headers());
  if (used.has("key")) bindings.key = key;
  if (used.has("key_string")) bindings.key_string = keyString(key);
  if (used.has("timestamp")) bindings.timestamp = BigInt(timestamp);
  return bindings;
}

function keyString(key: Uint8Array | null): string | null {
  if (key === null) return null;
  try {
    return utf8.decode(key);
  } catch {
    return null;
  }
}

function rawKey(record: RawRecord): Uint8Array | null {
  const value: unknown = decoder.decode(record.batch.subarray(record.key[0], record.key[1]));
  return value instanceof Uint8Array ? value : null;
}

const NO_FIELDS: Fields = Object.freeze({});

/** Headers or fields of a stored record: a MessagePack map the batch's CRC has vouched for. */
function decodeMap<T extends Headers | Fields>(record: RawRecord, range: readonly [number, number]): T {
  const value: unknown = decoder.decode(record.batch.subarray(range[0], range[1]));
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new StrataError("CORRUPT_DATA", `record at offset ${record.offset} holds no map where its fields or headers belong`);
  }
  return value as T;
}

/** "at 1:10: found > but expecting end of input" from the parser's error. */
function syntaxErrorText(e: unknown, expression: string): string {
  if (e instanceof RangeError) return "is nested too deeply";
  const message = e instanceof Error ? e.message : String(e);
  const located = /^<input>:(\d+):(\d+):\s*(.*)$/s.exec(message);
  if (located) return `at ${located[1]}:${located[2]}: ${located[3]}`;
  return `at ${lineColumn(expression, 0)}: ${message}`;
}
