// Lines of a byte stream: as bytes (without the "\n"), or as UTF-8 text (without "\n" or "\r\n").
// A long line arriving in many pieces is joined once, when its end is found.

function join(parts: readonly Uint8Array[], last: Uint8Array): Uint8Array {
  if (parts.length === 0) return last;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, last.length));
  let at = 0;
  for (const p of [...parts, last]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Each line's bytes, "\n" removed; a last line without one is yielded too. */
export async function* readByteLines(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [];
  for await (const piece of input) {
    const bytes = typeof piece === "string" ? encoder.encode(piece) : piece;
    let start = 0;
    let newline: number;
    while ((newline = bytes.indexOf(0x0a, start)) !== -1) {
      yield join(parts, bytes.subarray(start, newline));
      parts = [];
      start = newline + 1;
    }
    // Copied: the runtime may reuse the buffer of a piece it handed over.
    if (start < bytes.length) parts.push(bytes.slice(start));
  }
  if (parts.length > 0) yield join(parts.slice(0, -1), parts[parts.length - 1]!);
}

/** Lines of UTF-8 text, without their line ends. */
export async function* readLines(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  for await (const line of readByteLines(input)) yield decoder.decode(line).replace(/\r$/, "");
}

async function* single(text: string): AsyncGenerator<string> {
  yield text;
}

/** The lines a publish reads: the one --json value if given, else standard input's. */
export function recordInput(json: string | undefined): AsyncIterable<string> {
  return json !== undefined ? single(json) : readLines(process.stdin);
}
