// One gateway of a dev cluster as a child process: `strata serve --cluster --node NAME` on a
// fixed loopback port (so a restart keeps its URL), its own data directory, the shared metadata
// database and object store. The process is `stopped` → `starting` → `running` (↔ `paused` by
// SIGSTOP/SIGCONT) → `stopped` when it exits, for whatever reason; a watchdog stops it if the
// launcher dies. Used by `strata cluster dev` and the cluster tests (test/helpers/cluster.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { invariant } from "../../core/errors.ts";
import { strataCommand } from "./strata-command.ts";
import { guardChild } from "./watchdog.ts";

export interface SharedStores {
  /** The libSQL server every gateway shares (STRATA_DB_URL). */
  readonly dbUrl: string;
  readonly s3: { readonly endpoint: string; readonly bucket: string; readonly prefix: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface ClusterGatewaySpec {
  readonly node: string;
  readonly port: number;
  readonly dataDir: string;
  readonly stores: SharedStores;
  /** `strata serve --config FILE` (limits, cluster timings, …). */
  readonly configFile?: string;
  /** Appends everything the gateway prints to this file. */
  readonly logFile?: string;
  /** Longest wait for the "listening on" line. */
  readonly startTimeoutMs?: number;
}

type GatewayState =
  | { readonly kind: "stopped"; readonly exit: string | undefined }
  | { readonly kind: "starting"; readonly child: ChildProcess; readonly exited: Promise<void> }
  | { readonly kind: "running"; readonly child: ChildProcess; readonly exited: Promise<void> }
  | { readonly kind: "paused"; readonly child: ChildProcess; readonly exited: Promise<void> };

const OUTPUT_TAIL_CHARS = 64 * 1024;
const DEFAULT_START_TIMEOUT_MS = 60_000;
/** A clean leave that takes longer than this (the metadata database unreachable, say) ends in SIGKILL. */
const STOP_GRACE_MS = 30_000;

export class ClusterGateway {
  readonly url: string;
  #state: GatewayState = { kind: "stopped", exit: undefined };
  #output = "";
  /** Characters printed over all runs (the tail keeps only the last ones). */
  #printed = 0;
  #log: WriteStream | undefined;

  constructor(readonly spec: ClusterGatewaySpec) {
    this.url = `http://127.0.0.1:${spec.port}`;
  }

  get node(): string {
    return this.spec.node;
  }

  get state(): GatewayState["kind"] {
    return this.#state.kind;
  }

  /** The process's pid while it runs (or is paused). */
  pid(): number | undefined {
    return this.#state.kind === "stopped" ? undefined : this.#state.child.pid;
  }

  /** The last 64 KiB the process printed (stdout and stderr, all its runs). */
  output(): string {
    return this.#output;
  }

  /** A mark of what was printed so far, for outputSince(). */
  mark(): number {
    return this.#printed;
  }

  /** What the process printed after `mark` (as much of it as the 64 KiB tail still holds). */
  outputSince(mark: number): string {
    return this.#output.slice(Math.max(0, this.#output.length - (this.#printed - mark)));
  }

  /** Spawns the gateway and resolves once it listens; rejects (and kills it) if it exits or times out first. */
  async start(): Promise<void> {
    invariant(this.#state.kind === "stopped", `gateway ${this.node} started while ${this.#state.kind}`);
    const { spec } = this;
    const [program, ...prefix] = strataCommand();
    const args = [
      ...prefix,
      "serve",
      "--cluster",
      "--node", spec.node,
      "--host", "127.0.0.1",
      "--port", String(spec.port),
      "--advertise", this.url,
      "--data", spec.dataDir,
      "--db-url", spec.stores.dbUrl,
      "--s3-endpoint", spec.stores.s3.endpoint,
      "--s3-bucket", spec.stores.s3.bucket,
      "--s3-prefix", spec.stores.s3.prefix,
      "--s3-region", spec.stores.s3.region,
      ...(spec.configFile === undefined ? [] : ["--config", spec.configFile]),
    ];
    const child = spawn(program, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, AWS_ACCESS_KEY_ID: spec.stores.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: spec.stores.s3.secretAccessKey },
    });
    if (spec.logFile !== undefined && this.#log === undefined) this.#log = createWriteStream(spec.logFile, { flags: "a" });
    const exited = new Promise<void>((resolve) =>
      child.once("exit", (code, signal) => {
        const state = this.#state;
        if (state.kind !== "stopped" && state.child === child) this.#state = { kind: "stopped", exit: signal ?? `exit ${code}` };
        resolve();
      }),
    );
    this.#state = { kind: "starting", child, exited };
    if (child.pid !== undefined) guardChild(child.pid);
    let seen = "";
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway ${spec.node} did not listen within ${spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms:\n${this.#output.slice(-4000)}`)), spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      const onData = (d: Buffer): void => {
        const text = d.toString();
        this.#output = (this.#output + text).slice(-OUTPUT_TAIL_CHARS);
        this.#printed += text.length;
        this.#log?.write(text);
        if (seen !== "done") {
          seen = (seen + text).slice(-4096);
          if (/listening on https?:\/\//.test(seen)) {
            seen = "done";
            clearTimeout(timer);
            resolve();
          }
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`gateway ${spec.node} exited (${this.#exitText()}) before listening:\n${this.#output.slice(-4000)}`));
      });
    });
    try {
      await listening;
    } catch (e) {
      await this.kill();
      throw e;
    }
    if (this.#state.kind === "starting" && this.#state.child === child) this.#state = { kind: "running", child, exited };
  }

  /** Resolves with how the current process ended ("SIGKILL", "exit 1") once it exits; at once when stopped. */
  async exited(): Promise<string> {
    const state = this.#state;
    if (state.kind !== "stopped") await state.exited;
    return this.#exitText();
  }

  /** SIGKILL: no clean leave; its leases expire. Resolves once it has exited. */
  async kill(): Promise<void> {
    await this.#end("SIGKILL");
  }

  /** SIGTERM: a clean leave (leases handed over). Resolves once it has exited. */
  async stop(): Promise<void> {
    await this.#end("SIGTERM");
  }

  /** SIGSTOP: the process freezes (its leases run out while it cannot notice). */
  pause(): void {
    const state = this.#state;
    invariant(state.kind === "running", `gateway ${this.node} paused while ${state.kind}`);
    state.child.kill("SIGSTOP");
    this.#state = { kind: "paused", child: state.child, exited: state.exited };
  }

  /** SIGCONT after pause(). */
  resume(): void {
    const state = this.#state;
    invariant(state.kind === "paused", `gateway ${this.node} resumed while ${state.kind}`);
    state.child.kill("SIGCONT");
    this.#state = { kind: "running", child: state.child, exited: state.exited };
  }

  /** Stops it (SIGTERM, or SIGKILL with `hard`) and starts it again on the same port and data. */
  async restart(hard = false): Promise<void> {
    await (hard ? this.kill() : this.stop());
    await this.start();
  }

  /** Closes the log file once the process is stopped for good. */
  async close(): Promise<void> {
    await this.stop();
    const log = this.#log;
    this.#log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
  }

  async #end(signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const state = this.#state;
    if (state.kind === "stopped") return;
    if (state.kind === "paused" && signal === "SIGTERM") state.child.kill("SIGCONT");
    state.child.kill(signal);
    const timer = signal === "SIGTERM" ? setTimeout(() => state.child.kill("SIGKILL"), STOP_GRACE_MS) : undefined;
    await state.exited;
    clearTimeout(timer);
  }

  #exitText(): string {
    return this.#state.kind === "stopped" ? (this.#state.exit ?? "not started") : this.#state.kind;
  }
}
