// The body of a delta upload (POST /v1/artefacts?basis=…&block_size=…, docs/artefact-protocol.md
// "Delta uploads"): frames back to back, big-endian, nothing before or after them.
//   'C' (0x43) u32 index u32 count    copy blocks [index, index + count) of the basis
//   'L' (0x4c) u32 length, bytes      literal bytes, 1 <= length <= artefacts.deltaMaxBlockBytes
// The parser streams: a literal's bytes are passed on as they arrive, never held whole.
import { StrataError } from "../../core/errors.ts";

export const COPY_FRAME = 0x43;
export const LITERAL_FRAME = 0x4c;
/** Bytes of a frame's header: the type byte and two u32 for a copy, one for a literal. */
const COPY_HEADER = 9;
const LITERAL_HEADER = 5;

/** What the frames say, in order; `frame` counts from 0 and `at` is the frame's byte offset in the body. */
export type DeltaOp =
  | { readonly kind: "copy"; readonly frame: number; readonly at: number; readonly index: number; readonly count: number }
  | { readonly kind: "literal"; readonly frame: number; readonly at: number; readonly bytes: Uint8Array };

/** Where the parser is: between frames (a header partly read), or inside a literal's bytes. */
type ParseState = { kind: "header"; frame: number; at: number; held: Uint8Array; filled: number } | { kind: "literal"; frame: number; at: number; remaining: number };

export interface DeltaFramesOptions {
  readonly maxLiteralBytes: number;
  /** Hears the body's size as it grows (the bytes that crossed the wire). */
  readonly onBytes?: (bytes: number) => void;
}

function refuse(frame: number, at: number, message: string): never {
  throw new StrataError("BAD_REQUEST", `delta frame ${frame} (body byte ${at}): ${message}`);
}

function headerLength(type: number, frame: number, at: number): number {
  if (type === COPY_FRAME) return COPY_HEADER;
  if (type === LITERAL_FRAME) return LITERAL_HEADER;
  return refuse(frame, at, `unknown frame type 0x${type.toString(16).padStart(2, "0")} (0x43 copy, 0x4c literal)`);
}

export async function* deltaFrames(body: AsyncIterable<Uint8Array>, options: DeltaFramesOptions): AsyncGenerator<DeltaOp> {
  let state: ParseState = { kind: "header", frame: 0, at: 0, held: new Uint8Array(COPY_HEADER), filled: 0 };
  let offset = 0; // body bytes consumed
  for await (const piece of body) {
    options.onBytes?.(offset + piece.length);
    let i = 0;
    while (i < piece.length) {
      if (state.kind === "literal") {
        const n = Math.min(state.remaining, piece.length - i);
        const bytes = piece.subarray(i, i + n);
        i += n;
        offset += n;
        yield { kind: "literal", frame: state.frame, at: state.at, bytes };
        const remaining: number = state.remaining - n;
        state = remaining === 0 ? { kind: "header", frame: state.frame + 1, at: offset, held: new Uint8Array(COPY_HEADER), filled: 0 } : { kind: "literal", frame: state.frame, at: state.at, remaining };
        continue;
      }
      const need = headerLength(state.filled > 0 ? state.held[0]! : piece[i]!, state.frame, state.at);
      const n = Math.min(need - state.filled, piece.length - i);
      state.held.set(piece.subarray(i, i + n), state.filled);
      state.filled += n;
      i += n;
      offset += n;
      if (state.filled < need) continue;
      const view = new DataView(state.held.buffer, 0, need);
      const first = view.getUint32(1);
      if (need === COPY_HEADER) {
        const count = view.getUint32(5);
        if (count === 0) refuse(state.frame, state.at, "a copy of 0 blocks");
        yield { kind: "copy", frame: state.frame, at: state.at, index: first, count };
        state = { kind: "header", frame: state.frame + 1, at: offset, held: new Uint8Array(COPY_HEADER), filled: 0 };
      } else {
        if (first === 0 || first > options.maxLiteralBytes) refuse(state.frame, state.at, `a literal of ${first} bytes (1 to ${options.maxLiteralBytes}, artefacts.deltaMaxBlockBytes)`);
        state = { kind: "literal", frame: state.frame, at: state.at, remaining: first };
      }
    }
  }
  if (state.kind === "literal") refuse(state.frame, state.at, `the body ends ${state.remaining} bytes short of the literal`);
  if (state.filled > 0) refuse(state.frame, state.at, `the body ends inside the frame's header (${state.filled} bytes)`);
}
