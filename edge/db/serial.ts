// Runs async tasks one at a time. The edge database is used through one connection, and libSQL
// calls block the thread while they wait for a lock, so in-process work must never overlap a
// transaction that is waiting on an await: every database operation goes through this queue.
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
