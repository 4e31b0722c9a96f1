// Runs a page's refresh every `intervalMs`, one at a time (the next is scheduled when the last has
// finished, so a slow gateway is never asked twice at once), until stopped; stopping aborts the
// request in flight.
import { invariant } from "../../../core/errors.ts";

type PollerState =
  | { readonly kind: "waiting"; readonly timer: ReturnType<typeof setTimeout> }
  | { readonly kind: "running"; readonly controller: AbortController }
  | { readonly kind: "stopped" };

export class Poller {
  #state: PollerState;

  /** Starts at once: the first tick runs now. Errors are the tick's to show; they do not stop polling. */
  constructor(
    private readonly intervalMs: number,
    private readonly tick: (signal: AbortSignal) => Promise<void>,
  ) {
    invariant(Number.isFinite(intervalMs) && intervalMs > 0, `a poll interval must be positive, got ${intervalMs}`);
    this.#state = { kind: "stopped" };
    this.#run();
  }

  #run(): void {
    const controller = new AbortController();
    this.#state = { kind: "running", controller };
    void this.tick(controller.signal)
      .catch(() => undefined)
      .finally(() => {
        if (this.#state.kind === "stopped") return;
        invariant(this.#state.kind === "running" && this.#state.controller === controller, "a poller tick finished while another was running");
        this.#state = { kind: "waiting", timer: setTimeout(() => this.#run(), this.intervalMs) };
      });
  }

  stop(): void {
    const state = this.#state;
    if (state.kind === "waiting") clearTimeout(state.timer);
    if (state.kind === "running") state.controller.abort();
    this.#state = { kind: "stopped" };
  }
}
