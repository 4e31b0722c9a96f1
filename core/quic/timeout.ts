// Deadlines of the QUIC transport (handshake, hello, first frame, bulk streams waiting for
// hello), the same under Bun, Deno and Node.

/** Settles like `promise`, or rejects with `timeoutError()` after `ms`. The timer never keeps a process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
    unrefTimer(timer);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `callback` after `ms` without keeping the process alive for it; returns the cancel. */
export function background(ms: number, callback: () => void): () => void {
  const timer = setTimeout(callback, ms);
  unrefTimer(timer);
  return () => clearTimeout(timer);
}

/** Node and Bun timers are objects with unref(); Deno's are numbers, left as they are. */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer && typeof timer.unref === "function") timer.unref();
}
