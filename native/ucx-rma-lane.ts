// The endpoint a connection's one-sided gets go through when the peer runs on this host: opened by
// the peer's worker address (from its hello) so UCX picks shared memory or cma, which it never puts
// on a socket-address endpoint. UCX 1.13 offers those transports only without peer-failure
// detection (error mode NONE), so the lane never reports failure itself: the connection's
// socket-address endpoint (error mode PEER) does, and closes the lane; a get that fails on the lane
// retires it. Each get's rkey is unpacked on this endpoint (and cached there by sux).
import { getLogger } from "@logtape/logtape";
import { invariant } from "../core/errors.ts";
import type { NativeHandle } from "./addon.ts";
import type { GetLane, WorkerCore } from "./ucx-worker-core.ts";

const log = getLogger(["strata", "ucx"]);

type LaneState = { kind: "open" } | { kind: "closing"; reason: string; done: Promise<void> } | { kind: "closed"; reason: string };

export class RmaLane implements GetLane {
  private state: LaneState = { kind: "open" };
  private readonly core: WorkerCore;
  readonly handle: NativeHandle;
  readonly id: number;

  constructor(core: WorkerCore, handle: NativeHandle, id: number) {
    this.core = core;
    this.handle = handle;
    this.id = id;
  }

  get open(): boolean {
    return this.state.kind === "open";
  }

  /** A get failed on this lane: it closes, and its connection's gets use the socket-address endpoint. */
  failed(reason: string): void {
    if (this.state.kind !== "open") return;
    log.debug("UCX get endpoint {id} retired: {reason}", { id: this.id, reason });
    void this.shut(`failed (${reason})`, false);
  }

  close(): Promise<void> {
    return this.shut("closed locally", false);
  }

  /** force: the peer is gone (a flushing close could wait on it). */
  shut(reason: string, force: boolean): Promise<void> {
    if (this.state.kind === "closing") return this.state.done;
    if (this.state.kind === "closed") return Promise.resolve();
    const done = this.core
      .post("close", (op) => this.core.addon.epClose(this.handle, op, force))
      .then(
        () => undefined,
        (e: unknown) => log.debug("UCX get endpoint {id} close: {error}", { id: this.id, error: e instanceof Error ? e.message : String(e) }),
      )
      .finally(() => {
        invariant(this.state.kind === "closing", "a UCX get endpoint finished closing twice");
        this.state = { kind: "closed", reason };
        this.core.forget(this.id);
      });
    this.state = { kind: "closing", reason, done };
    return done;
  }
}
