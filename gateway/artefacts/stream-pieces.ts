// A web ReadableStream read as an async iterable of its pieces (TypeScript's DOM lib does not
// declare ReadableStream async-iterable); returning early releases the reader.
export async function* streamPieces(stream: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (stream === null) return;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
