// Runs the jobs service's sweep (abort timed-out checkpoints, publish missing completion records)
// every interval, one run at a time, until closed. Its own small state machine:
//   idle --(tick)--> sweeping --(done)--> idle;  idle | sweeping --(close)--> closed
import { getLogger } from "@logtape/logtape";
import { invariant } from "../../core/errors.ts";

const log = getLogger(["strata", "jobs"]);

type SweeperState = { readonly kind: "idle" } | { readonly kind: "sweeping"; readonly run: Promise<void> } | { readonly kind: "closed" };

export class CheckpointSweeper {
  #state: SweeperState = { kind: "idle" };
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(
    intervalMs: number,
    private readonly sweep: () => Promise<void>,
  ) {
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref?.();
  }

  /** Starts a sweep unless one is running or the sweeper is closed. */
  tick(): void {
    if (this.#state.kind !== "idle") return;
    const run = this.sweep()
      .catch((error: unknown) => log.error("checkpoint sweep failed: {error}", { error }))
      .finally(() => {
        if (this.#state.kind === "closed") return;
        invariant(this.#state.kind === "sweeping" && this.#state.run === run, "checkpoint sweeper finished a run it was not running");
        this.#state = { kind: "idle" };
      });
    this.#state = { kind: "sweeping", run };
  }

  /** Stops the timer and waits for a running sweep. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    const state = this.#state;
    this.#state = { kind: "closed" };
    if (state.kind === "sweeping") await state.run;
  }
}
