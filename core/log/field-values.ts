// Record field values: the one rule every transport (HTTP JSON, HTTP MessagePack, QUIC) applies to
// a publish's fields before anything is written. A field value is a value of the log model
// (core/log/record.ts): null, booleans, numbers, bigints, strings, bytes, Tensors, ArtefactRefs,
// and arrays and string-keyed maps of these. Anything else a decoder can produce (a MessagePack
// timestamp decodes to a Date, an unregistered extension to ExtData) would be stored and then
// fail every read of its page, so it is refused. The codec writes any map whose `kind` is
// "tensor" or "artefact" as that extension (core/log/extensions.ts), so such a map must be a
// valid one with no other keys, and the fields map itself must not be one.
//
// Two more rules keep every stored record readable in every form a reader asks for: numbers are
// finite (JSON has no NaN or Infinity), and values nest at most MAX_VALUE_DEPTH deep below the
// fields map, as deep as JSON reads serve (toJsonValue). One record breaking either would make
// every JSON read of its page fail, so it is refused at publish whatever the transport.
//
// The check runs on every published record: one loop with its own stack (a hostile peer's deep
// nesting cannot overflow the call stack) that allocates nothing but that stack. Only when it
// fails does a second, slower walk find the offending value to name it in the error.
import { ExtData } from "@msgpack/msgpack";
import { StrataError } from "../errors.ts";
import { issuePath } from "../util/parse-input.ts";
import { makeArtefactRef, makeTensor } from "./extensions.ts";
import { MAX_VALUE_DEPTH } from "./json-value.ts";
import type { Fields } from "./record.ts";

type Container = unknown[] | Record<string, unknown>;

/** Keys of a Tensor and of an ArtefactRef, `kind` included. */
const EXTENSION_KEYS = 4;

/** A string-keyed map as a decoder builds it (not an instance of some class, not an array or bytes). */
function isPlainMap(v: object): v is Record<string, unknown> {
  if (Array.isArray(v) || v instanceof Uint8Array) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isExtensionKind(map: Record<string, unknown>): boolean {
  return map.kind === "tensor" || map.kind === "artefact";
}

function keyCount(map: Record<string, unknown>): number {
  let n = 0;
  for (const _ in map) n++;
  return n;
}

/** Why a map the codec writes as an extension value is not a valid one; null when it is. */
function extensionProblem(map: Record<string, unknown>): string | null {
  const name = map.kind === "tensor" ? "Tensor" : "ArtefactRef";
  const written = `a map whose kind is "${String(map.kind)}" is written as a ${name}`;
  if (keyCount(map) !== EXTENSION_KEYS) return `${written} and may hold only its four keys`;
  try {
    if (map.kind === "tensor") {
      const { dtype, shape, data } = map;
      if (typeof dtype !== "string" || !Array.isArray(shape) || !(data instanceof Uint8Array)) return `${written}: it needs dtype (a string), shape (an array) and data (bytes)`;
      makeTensor(dtype, shape, data);
    } else {
      const { manifest, size, mediaType } = map;
      if (typeof manifest !== "string" || typeof size !== "number" || typeof mediaType !== "string") return `${written}: it needs manifest (a string), size (a number) and mediaType (a string)`;
      makeArtefactRef(manifest, size, mediaType);
    }
    return null;
  } catch (e) {
    if (!(e instanceof StrataError)) throw e;
    return `${written}, and this one is not valid: ${e.message}`;
  }
}

/** Whether `v` is itself a field value; a container is pushed to look into later. */
function admit(v: unknown, pending: Container[]): boolean {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v);
    case "string":
    case "boolean":
    case "bigint":
      return true;
    case "object":
      if (v === null || v instanceof Uint8Array) return true;
      if (Array.isArray(v)) {
        pending.push(v);
        return true;
      }
      if (!isPlainMap(v)) return false;
      if (isExtensionKind(v)) return extensionProblem(v) === null;
      pending.push(v);
      return true;
    default:
      return false;
  }
}

function isFieldsShape(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && isPlainMap(v) && !isExtensionKind(v);
}

/** Whether `v` is a string or a finite number: most values by far, passed without a call. */
function isPlainScalar(v: unknown): boolean {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

/** Whether `v` is a map of record field values. */
export function isFieldMap(v: unknown): v is Fields {
  if (!isFieldsShape(v)) return false;
  const pending: Container[] = [v];
  // depths[i]: how deep the children of pending[i] are (the fields map's are at 1).
  const depths: number[] = [1];
  for (let container = pending.pop(); container !== undefined; container = pending.pop()) {
    const depth = depths.pop()!;
    const before = pending.length;
    if (Array.isArray(container)) {
      if (depth > MAX_VALUE_DEPTH && container.length > 0) return false;
      for (let i = 0; i < container.length; i++) {
        const child: unknown = container[i];
        if (!isPlainScalar(child) && !admit(child, pending)) return false;
      }
    } else {
      for (const key in container) {
        if (depth > MAX_VALUE_DEPTH) return false;
        const child = container[key];
        if (!isPlainScalar(child) && !admit(child, pending)) return false;
      }
    }
    for (let i = before; i < pending.length; i++) depths.push(depth + 1);
  }
  return true;
}

/** What a value that is no field value is, for the error. */
function describe(v: unknown): string {
  if (v instanceof Date) return "a Date (a MessagePack timestamp)";
  if (v instanceof ExtData) return `an unregistered MessagePack extension (type ${v.type})`;
  if (typeof v === "object" && v !== null) {
    if (isPlainMap(v)) return extensionProblem(v) ?? "a map";
    const name: unknown = Object.getPrototypeOf(v)?.constructor?.name;
    if (typeof name !== "string" || name === "") return "an object that is no plain map";
    return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
  }
  if (typeof v === "number") return `a non-finite number (${v}), which JSON cannot carry`;
  return v === undefined ? "undefined" : `a ${typeof v}`;
}

const FIELD_VALUES = "field values are nil, booleans, numbers, strings, bytes, Tensors, ArtefactRefs, and arrays and maps of these";

/** Where a value sits below the fields map: a chain to the root, joined into a path only for the error. */
interface Place {
  readonly parent: Place | null;
  readonly at: string | number;
  /** 1 for a field, 2 for a value inside a field, ... */
  readonly depth: number;
}

/** Longest path an error shows (its end, where the value is): the keys are the peer's and error messages are bounded. */
const MAX_PATH_CHARS = 200;

function pathOf(place: Place): string {
  const segments: (string | number)[] = [];
  for (let p: Place | null = place; p !== null; p = p.parent) segments.push(p.at);
  const path = issuePath(segments.reverse());
  return path.length <= MAX_PATH_CHARS ? path : `…${path.slice(-MAX_PATH_CHARS)}`;
}

/** Why `v` is not a map of field values (call it when isFieldMap is false): where the first offending value is and what it is. */
export function fieldMapProblem(v: unknown): string {
  if (typeof v !== "object" || v === null || !isPlainMap(v)) return `must be a map of field values, not ${describe(v)}`;
  if (isExtensionKind(v)) return `must be a map of field values; a map whose kind is "${String(v.kind)}" is written as an extension value`;
  const pending: [Container, Place | null][] = [[v, null]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [container, place] = next;
    const children: [string | number, unknown][] = Array.isArray(container) ? container.map((child, i) => [i, child]) : Object.entries(container);
    for (const [at, child] of children) {
      const inside: Container[] = [];
      const here: Place = { parent: place, at, depth: (place?.depth ?? 0) + 1 };
      if (here.depth > MAX_VALUE_DEPTH) return `${pathOf(here)} nests deeper than ${MAX_VALUE_DEPTH} levels below the fields, deeper than JSON reads serve`;
      if (!admit(child, inside)) return `${pathOf(here)} is ${describe(child)}; ${FIELD_VALUES}`;
      for (const c of inside) pending.push([c, here]);
    }
  }
  return "is a map of field values";
}
