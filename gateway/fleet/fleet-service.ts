// Devices and staged rollouts (docs/fleet.md). A heartbeat records what a device runs and answers
// which artefact each of its pinned streams under a rollout should hold; a rollout selects devices
// by stable hash buckets (rollout-bucket.ts) and moves through rollout-state.ts. Everything lives in
// memory and is written through to the metadata database (fleet-store.ts) before an answer.
import { randomBytes } from "node:crypto";
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { MetadataDb } from "../db/database.ts";
import type { FleetLimits } from "./fleet-limits.ts";
import { type DeviceRow, FleetStore, type RolloutRow } from "./fleet-store.ts";
import type { DeviceInfo, DeviceList, Heartbeat, HeartbeatAnswer, Labels, PinTarget, RolloutInfo, StartRollout } from "./fleet-wire.ts";
import { labelsMatch, selects } from "./rollout-bucket.ts";
import { complete, FULL_BP, isOpen, pause, type RolloutState, rollBack, setPercent } from "./rollout-state.ts";

const log = getLogger(["strata", "fleet"]);
const encoder = new TextEncoder();

export interface FleetDeps {
  readonly db: MetadataDb;
  readonly limits: FleetLimits;
  /** Throws NOT_FOUND unless the gateway holds the manifest. */
  readonly checkArtefact: (id: string) => Promise<void>;
  readonly now?: () => number;
}

interface Rollout extends RolloutRow {
  readonly failed: Set<string>;
}

function bytes(text: string): number {
  return encoder.encode(text).length;
}

export class FleetService {
  readonly #deps: FleetDeps;
  readonly #store: FleetStore;
  readonly #devices = new Map<string, DeviceRow>();
  /** Every rollout by id; `#byStream` lists each stream's, oldest first. */
  readonly #rollouts = new Map<string, Rollout>();
  readonly #byStream = new Map<string, Rollout[]>();
  readonly #lock = new KeyedLock();
  /** False on a gateway that does not coordinate (cluster mode): changes are refused. */
  #serving = false;
  /** Cluster mode: false the moment this gateway may no longer coordinate (before suspend() runs). */
  #mayWrite: () => boolean = () => true;

  private constructor(deps: FleetDeps) {
    this.#deps = deps;
    this.#store = new FleetStore(deps.db);
  }

  /**
   * Loads devices and rollouts. `dormant` (cluster mode): loaded for the GC holder
   * (heldManifests) but changes are refused until resume(), on the coordinator only.
   */
  static async open(deps: FleetDeps & { readonly dormant?: boolean }): Promise<FleetService> {
    const service = new FleetService(deps);
    if (deps.dormant === true) await service.refresh();
    else await service.resume();
    return service;
  }

  /** Cluster mode, this gateway became the coordinator: devices and rollouts as the database has them. */
  async resume(mayWrite: () => boolean = () => true): Promise<void> {
    await this.#lock.run("fleet", async () => {
      this.#mayWrite = mayWrite;
      await this.#load();
      this.#serving = true;
    });
  }

  /** Another gateway coordinates: changes get NOT_LEADER until resume(). */
  async suspend(): Promise<void> {
    await this.#lock.run("fleet", async () => {
      this.#serving = false;
    });
  }

  /** On a gateway that does not coordinate: reloads the rollouts, so the GC holder follows the coordinator's. */
  async refresh(): Promise<void> {
    await this.#lock.run("fleet", async () => {
      if (!this.#serving) await this.#load();
    });
  }

  async #load(): Promise<void> {
    const devices = await this.#store.loadDevices();
    const rows = (await this.#store.loadRollouts()).sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
    const failures = await this.#store.loadFailures();
    this.#devices.clear();
    this.#rollouts.clear();
    this.#byStream.clear();
    for (const d of devices) this.#devices.set(d.id, d);
    for (const r of rows) this.#remember({ ...r, failed: new Set() });
    for (const f of failures) this.#rollouts.get(f.rolloutId)?.failed.add(f.deviceId);
  }

  /** A change, one at a time, on the coordinator only. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#lock.run("fleet", async () => {
      if (!this.#serving || !this.#mayWrite()) throw new StrataError("NOT_LEADER", "this gateway does not coordinate the fleet (any more); retry");
      return task();
    });
  }

  get limits(): FleetLimits {
    return this.#deps.limits;
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  #remember(r: Rollout): void {
    this.#rollouts.set(r.id, r);
    const list = this.#byStream.get(r.stream) ?? [];
    const at = list.findIndex((x) => x.id === r.id);
    if (at >= 0) list[at] = r;
    else list.push(r);
    this.#byStream.set(r.stream, list);
  }

  #checkLabels(labels: Labels, what: string): void {
    const { maxLabels, maxLabelBytes } = this.#deps.limits;
    const entries = Object.entries(labels);
    if (entries.length > maxLabels) throw new StrataError("BAD_REQUEST", `${what} has ${entries.length} labels, more than fleet.maxLabels (${maxLabels})`);
    for (const [k, v] of entries) {
      if (bytes(k) > maxLabelBytes || bytes(v) > maxLabelBytes) throw new StrataError("BAD_REQUEST", `${what}: label ${JSON.stringify(k)} is longer than fleet.maxLabelBytes (${maxLabelBytes})`);
    }
  }

  #checkHeartbeat(id: string, body: Heartbeat): void {
    const { maxPinsPerDevice, maxErrorsPerHeartbeat, maxErrorBytes, maxDevices } = this.#deps.limits;
    this.#checkLabels(body.labels, `device ${id}`);
    const pins = Object.keys(body.pins).length;
    if (pins > maxPinsPerDevice) throw new StrataError("BAD_REQUEST", `the heartbeat reports ${pins} pins, more than fleet.maxPinsPerDevice (${maxPinsPerDevice})`);
    const errors = body.errors ?? [];
    if (errors.length > maxErrorsPerHeartbeat) throw new StrataError("BAD_REQUEST", `the heartbeat reports ${errors.length} errors, more than fleet.maxErrorsPerHeartbeat (${maxErrorsPerHeartbeat})`);
    for (const e of errors) if (bytes(e.message) > maxErrorBytes) throw new StrataError("BAD_REQUEST", `an error message is longer than fleet.maxErrorBytes (${maxErrorBytes})`);
    if (!this.#devices.has(id) && this.#devices.size >= maxDevices) throw new StrataError("BAD_REQUEST", `the gateway keeps fleet.maxDevices (${maxDevices}) devices: device ${id} is not added`);
  }

  /** The newest rollout of a stream: it decides what the stream's pins hold. */
  #current(stream: string): Rollout | undefined {
    const list = this.#byStream.get(stream);
    return list?.[list.length - 1];
  }

  #selected(r: Rollout, d: DeviceRow): boolean {
    return selects(r.id, r.percentBp, r.labels, d.id, d.labels);
  }

  /** What a device should run on `r.stream`: the target, or the previous version (null: whatever it runs). */
  #targetOf(r: Rollout, d: DeviceRow): string | null {
    switch (r.state.kind) {
      case "rolled-back":
        return r.previous;
      case "completed":
        return labelsMatch(r.labels, d.labels) ? r.artefact : r.previous;
      case "active":
        return this.#selected(r, d) ? r.artefact : r.previous;
      case "paused":
        // Paused: nobody new moves; a selected device that already runs the target keeps it.
        return this.#selected(r, d) && d.pins[r.stream] === r.artefact && !r.failed.has(d.id) ? r.artefact : r.previous;
    }
  }

  /** Records a device's report; answers the targets of its pinned streams that are under a rollout and that `mayConsume`. */
  heartbeat(id: string, body: Heartbeat, mayConsume: (stream: string) => boolean): Promise<HeartbeatAnswer> {
    this.#checkHeartbeat(id, body);
    return this.#exclusive(async () => {
      const now = this.#now();
      const before = this.#devices.get(id);
      const device: DeviceRow = {
        id,
        labels: body.labels,
        pins: body.pins,
        outboxRecords: body.outbox_records,
        transport: body.transport,
        version: body.version,
        errors: body.errors ?? [],
        firstSeen: before?.firstSeen ?? now,
        lastSeen: now,
      };
      await this.#store.saveDevice(device);
      this.#devices.set(id, device);
      for (const e of device.errors) {
        const r = this.#current(e.stream);
        if (!r || r.artefact !== e.artefact || !isOpen(r.state) || r.failed.has(id) || !this.#selected(r, device)) continue;
        await this.#store.addFailure(r.id, id, `${e.stage}: ${e.message}`, now);
        r.failed.add(id);
        log.warning("device {device} failed rollout {rollout} ({stage}): {message}", { device: id, rollout: r.id, stage: e.stage, message: e.message });
      }
      const targets: Record<string, PinTarget> = {};
      for (const stream of Object.keys(device.pins)) {
        const r = this.#current(stream);
        if (!r) continue;
        await this.#settle(r, now);
        if (mayConsume(stream)) targets[stream] = { artefact: this.#targetOf(r, device), rollout: r.id };
      }
      return { device: id, targets };
    });
  }

  /** Pauses a rollout past its failure bound, completes one at 100 % that every matching device runs. */
  async #settle(r: Rollout, now: number): Promise<void> {
    if (r.state.kind !== "active") return;
    const counts = this.#counts(r);
    let next: RolloutState | null = null;
    if (r.maxFailurePercent !== null && counts.selected > 0 && (counts.failed * 100) / counts.selected > r.maxFailurePercent) {
      next = pause(r.id, r.state, `${counts.failed} of ${counts.selected} selected devices failed, more than ${r.maxFailurePercent} %`);
      log.warning("rollout {rollout} paused: {reason}", { rollout: r.id, reason: next.kind === "paused" ? next.reason : "" });
    } else if (r.percentBp === FULL_BP && counts.matching > 0 && counts.target === counts.matching) {
      next = complete(r.id, r.state, r.percentBp);
    }
    if (next) await this.#update(r, { state: next, updated: now });
  }

  async #update(r: Rollout, change: Partial<Pick<RolloutRow, "state" | "percentBp" | "updated">>): Promise<Rollout> {
    const next: Rollout = { ...r, ...change, failed: r.failed };
    await this.#store.updateRollout(next);
    this.#remember(next);
    return next;
  }

  #counts(r: Rollout): RolloutInfo["devices"] {
    const counts = { matching: 0, selected: 0, target: 0, previous: 0, other: 0, failed: 0 };
    for (const d of this.#devices.values()) {
      if (!(r.stream in d.pins) || !labelsMatch(r.labels, d.labels)) continue;
      counts.matching++;
      if (this.#selected(r, d)) {
        counts.selected++;
        if (r.failed.has(d.id)) counts.failed++;
      }
      const running = d.pins[r.stream];
      if (running === r.artefact) counts.target++;
      else if (running === r.previous && running !== null) counts.previous++;
      else counts.other++;
    }
    return counts;
  }

  #info(r: Rollout): RolloutInfo {
    return {
      id: r.id,
      stream: r.stream,
      artefact: r.artefact,
      previous: r.previous,
      percent: r.percentBp / 100,
      labels: r.labels,
      max_failure_percent: r.maxFailurePercent,
      state: r.state.kind,
      reason: r.state.kind === "paused" ? r.state.reason : null,
      created: r.created,
      updated: r.updated,
      devices: this.#counts(r),
    };
  }

  #deviceInfo(d: DeviceRow): DeviceInfo {
    return { id: d.id, labels: d.labels, pins: d.pins, outbox_records: d.outboxRecords, transport: d.transport, version: d.version, errors: [...d.errors], first_seen: d.firstSeen, last_seen: d.lastSeen };
  }

  /** Devices whose labels include every pair of `selector`, by id; `visible` filters by scope. */
  devices(selector: Labels, limit: number | undefined, visible: (id: string) => boolean): DeviceList {
    const max = Math.min(limit ?? this.#deps.limits.deviceListMax, this.#deps.limits.deviceListMax);
    if (max < 1) throw new StrataError("BAD_REQUEST", "limit must be at least 1");
    const matching = [...this.#devices.values()].filter((d) => labelsMatch(selector, d.labels) && visible(d.id)).sort((a, b) => a.id.localeCompare(b.id));
    return { devices: matching.slice(0, max).map((d) => this.#deviceInfo(d)), truncated: matching.length > max };
  }

  device(id: string): DeviceInfo {
    const d = this.#devices.get(id);
    if (!d) throw new StrataError("NOT_FOUND", `no device ${id} has reported`);
    return this.#deviceInfo(d);
  }

  /** The version the devices outside a new rollout keep: given, else the stream's last rollout's baseline, else what most of its devices run. */
  #baseline(stream: string, artefact: string): string | null {
    const last = this.#current(stream);
    if (last) return last.state.kind === "rolled-back" ? last.previous : last.artefact;
    const running = new Map<string, number>();
    for (const d of this.#devices.values()) {
      const a = d.pins[stream];
      if (a && a !== artefact) running.set(a, (running.get(a) ?? 0) + 1);
    }
    let best: string | null = null;
    let most = 0;
    for (const [a, n] of running) {
      if (n > most || (n === most && best !== null && a < best)) [best, most] = [a, n];
    }
    return best;
  }

  async start(body: StartRollout): Promise<RolloutInfo> {
    this.#checkLabels(body.labels ?? {}, "the rollout's selector");
    await this.#deps.checkArtefact(body.artefact);
    if (body.previous !== undefined) await this.#deps.checkArtefact(body.previous);
    return this.#exclusive(async () => {
      if (this.#rollouts.size >= this.#deps.limits.maxRollouts) throw new StrataError("BAD_REQUEST", `the gateway keeps fleet.maxRollouts (${this.#deps.limits.maxRollouts}) rollouts`);
      const open = this.#current(body.stream);
      if (open && isOpen(open.state)) throw new StrataError("ROLLOUT_CONFLICT", `stream ${body.stream} has rollout ${open.id} ${open.state.kind}: complete it, roll it back, or set its percentage`);
      const now = this.#now();
      const previous = body.previous ?? this.#baseline(body.stream, body.artefact);
      if (previous === body.artefact) throw new StrataError("ROLLOUT_CONFLICT", `stream ${body.stream} already runs ${body.artefact}`);
      const rollout: Rollout = {
        id: `r-${bytesToHex(randomBytes(8))}`,
        stream: body.stream,
        artefact: body.artefact,
        previous,
        percentBp: Math.round((body.percent ?? 100) * 100),
        labels: body.labels ?? {},
        maxFailurePercent: body.max_failure_percent ?? null,
        state: { kind: "active" },
        created: now,
        updated: now,
        failed: new Set(),
      };
      invariant(rollout.percentBp >= 0 && rollout.percentBp <= FULL_BP, `percent ${rollout.percentBp / 100} out of range`);
      await this.#store.insertRollout(rollout);
      this.#remember(rollout);
      log.info("rollout {rollout} of {artefact} on {stream} at {percent} %", { rollout: rollout.id, artefact: rollout.artefact, stream: rollout.stream, percent: rollout.percentBp / 100 });
      return this.#info(rollout);
    });
  }

  #get(id: string): Rollout {
    const r = this.#rollouts.get(id);
    if (!r) throw new StrataError("NOT_FOUND", `no rollout ${id}`);
    return r;
  }

  /** The stream a rollout is on, for authorisation (NOT_FOUND when there is no such rollout). */
  streamOf(id: string): string {
    return this.#get(id).stream;
  }

  info(id: string): RolloutInfo {
    return this.#info(this.#get(id));
  }

  list(visible: (stream: string) => boolean): RolloutInfo[] {
    return [...this.#rollouts.values()].filter((r) => visible(r.stream)).sort((a, b) => b.created - a.created).map((r) => this.#info(r));
  }

  setPercent(id: string, percent: number): Promise<RolloutInfo> {
    return this.#exclusive(async () => {
      const r = this.#get(id);
      const state = setPercent(id, r.state);
      const next = await this.#update(r, { state, percentBp: Math.round(percent * 100), updated: this.#now() });
      return this.#info(next);
    });
  }

  rollback(id: string): Promise<RolloutInfo> {
    return this.#exclusive(async () => {
      const r = this.#get(id);
      const latest = this.#current(r.stream);
      if (latest?.id !== id) throw new StrataError("ROLLOUT_CONFLICT", `rollout ${id} is not the newest on ${r.stream} (${latest?.id ?? "none"} is)`);
      const next = await this.#update(r, { state: rollBack(id, r.state, r.previous), updated: this.#now() });
      return this.#info(next);
    });
  }

  /** The manifests every stream's newest rollout may hand out, held against GC. */
  heldManifests(): ReadonlySet<string> {
    const held = new Set<string>();
    for (const list of this.#byStream.values()) {
      const r = list[list.length - 1];
      if (!r) continue;
      held.add(r.artefact);
      if (r.previous) held.add(r.previous);
    }
    return held;
  }
}
