// A sleep that ends early when woken (new outbox rows, stop).
export class WakeableSleep {
  #wake: (() => void) | null = null;
  #pending = false;

  /** Resolves after `ms`, or at once if wake() was called since the last sleep. */
  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }

  wake(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }
}
