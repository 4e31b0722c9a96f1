// Keeps each pinned stream's latest artefact at its path: looks up the newest ArtefactRef, and
// when it differs from what the path holds (or the file is gone) pulls it through the chunk cache
// (missing chunks only, verified, temporary file, fsync, atomic rename), records it, and calls
// the pin's update callback.
import { existsSync } from "node:fs";
import { ARTEFACT_FIELD } from "../artefacts/push.ts";
import type { PinState, PinStore } from "../store/pins.ts";
import type { SyncTransport } from "../transports/transport.ts";
import { errorText, isFatal, isTransient } from "./errors.ts";
import type { TokenBucket } from "../../core/util/token-bucket.ts";
import { StrataError } from "../../core/errors.ts";
import type { DeviceReporter, DeviceSnapshot, RolloutTarget } from "./device-report.ts";

export interface PinUpdate extends PinState {
  readonly artefact: string;
  readonly size: number;
  readonly updated: number;
  /** Chunk bytes downloaded for this update (the rest came from the cache). */
  readonly bytesTransferred: number;
}

export type PinCallback = (update: PinUpdate) => void | Promise<void>;

export interface PinSyncOptions {
  readonly cacheDir: string;
  readonly cacheMaxBytes: number;
  /** The sync bandwidth limit: pulls pace themselves at its rate and are charged to it. */
  readonly bucket: TokenBucket | null;
  readonly onUpdate: (update: PinUpdate) => void;
  readonly onError: (message: string) => void;
  /** The device's heartbeat before each round, and what it reports (docs/fleet.md); none: pins follow their stream's newest artefact. */
  readonly device?: { readonly reporter: DeviceReporter; readonly snapshot: () => Promise<DeviceSnapshot> };
}

interface ActivePin {
  readonly stream: string;
  readonly path: string;
  readonly callbacks: PinCallback[];
}

export class PinSync {
  readonly #store: PinStore;
  readonly #options: PinSyncOptions;
  readonly #active = new Map<string, ActivePin>();

  constructor(store: PinStore, options: PinSyncOptions) {
    this.#store = store;
    this.#options = options;
  }

  get size(): number {
    return this.#active.size;
  }

  /** Whether a round has anything to do: pins to keep, or a device to report. */
  get hasWork(): boolean {
    return this.#active.size > 0 || this.#options.device !== undefined;
  }

  add(stream: string, path: string, onUpdate?: PinCallback): void {
    const key = `${stream}\u0000${path}`;
    const pin = this.#active.get(key) ?? { stream, path, callbacks: [] };
    if (onUpdate) pin.callbacks.push(onUpdate);
    this.#active.set(key, pin);
  }

  remove(stream: string, path: string): void {
    this.#active.delete(`${stream}\u0000${path}`);
  }

  /** One round over every pin. Transient failures (link, gateway) are thrown for the loop's backoff, a refused token to end the loop; others are reported and the pin waits for the next round. */
  async syncAll(transport: SyncTransport, signal: AbortSignal): Promise<void> {
    const device = this.#options.device;
    const targets = device ? await device.reporter.report(await device.snapshot(), signal) : null;
    for (const pin of [...this.#active.values()]) {
      signal.throwIfAborted();
      const target = targets?.get(pin.stream);
      try {
        await this.#syncOne(transport, pin, target, signal);
      } catch (e) {
        if (isTransient(e) || isFatal(e)) throw e;
        // A rollout's target refused here is reported (and not retried while it stays the target).
        if (device && target?.artefact) device.reporter.fail({ stream: pin.stream, artefact: target.artefact, stage: failureStage(e), message: errorText(e) });
        this.#options.onError(`pin ${pin.stream} → ${pin.path}: ${errorText(e)}`);
      }
    }
  }

  async #syncOne(transport: SyncTransport, pin: ActivePin, target: RolloutTarget | undefined, signal: AbortSignal): Promise<void> {
    // Under a rollout the gateway names the artefact (null: keep what the file holds); else the stream's newest.
    let wanted: string;
    if (target !== undefined) {
      if (target.artefact === null || this.#options.device?.reporter.failed(pin.stream, target.artefact)) return;
      wanted = target.artefact;
    } else {
      const latest = await transport.fetchLatestArtefactRef(pin.stream, ARTEFACT_FIELD);
      if (!latest) return;
      wanted = latest.ref.manifest;
    }
    const state = await this.#store.get(pin.stream, pin.path);
    if (state?.artefact === wanted && existsSync(pin.path)) return;
    const bucket = this.#options.bucket;
    // Chunk bytes are taken from the edge's one token bucket as they arrive, so uploads and pin
    // downloads share the limit; stop() aborts the pull (its temporary file removed).
    const pulled = await transport.pull({
      artefact: wanted,
      out: pin.path,
      cacheDir: this.#options.cacheDir,
      cacheMaxBytes: this.#options.cacheMaxBytes,
      maxBytesPerSecond: bucket?.bytesPerSecond ?? 0,
      ...(bucket ? { rate: bucket } : {}),
      signal,
    });
    const saved = await this.#store.updated(pin.stream, pin.path, pulled.artefact, pulled.size);
    const update: PinUpdate = { ...saved, artefact: pulled.artefact, size: pulled.size, updated: saved.updated ?? Date.now(), bytesTransferred: pulled.bytesTransferred };
    this.#options.onUpdate(update);
    for (const callback of pin.callbacks) {
      try {
        await callback(update);
      } catch (e) {
        this.#options.onError(`pin ${pin.stream} → ${pin.path}: update callback failed: ${errorText(e)}`);
        if (target?.artefact) this.#options.device?.reporter.fail({ stream: pin.stream, artefact: target.artefact, stage: "callback", message: errorText(e) });
      }
    }
  }
}

/** Which stage of installing an artefact a failure belongs to: its bytes not matching their hashes is verification. */
function failureStage(e: unknown): "download" | "verify" {
  return e instanceof StrataError && (e.code === "HASH_MISMATCH" || e.code === "CORRUPT_DATA") ? "verify" : "download";
}
