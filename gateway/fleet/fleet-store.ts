// The fleet's rows in the metadata database: devices as of their last heartbeat, rollouts, and
// the devices that failed a rollout's target. The service keeps the same state in memory and
// writes through here before answering.
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { MetadataDb } from "../db/database.ts";
import { devices, rolloutFailures, rollouts } from "../db/fleet-schema.ts";
import { deviceErrorSchema, labelsSchema, manifestIdSchema, ROLLOUT_STATES, type DeviceError, type Labels } from "./fleet-wire.ts";
import { type RolloutState, stateOf } from "./rollout-state.ts";

export interface DeviceRow {
  readonly id: string;
  readonly labels: Labels;
  readonly pins: Readonly<Record<string, string | null>>;
  readonly outboxRecords: number;
  readonly transport: string;
  readonly version: string;
  readonly errors: readonly DeviceError[];
  readonly firstSeen: number;
  readonly lastSeen: number;
}

export interface RolloutRow {
  readonly id: string;
  readonly stream: string;
  readonly artefact: string;
  readonly previous: string | null;
  readonly percentBp: number;
  readonly labels: Labels;
  readonly maxFailurePercent: number | null;
  readonly state: RolloutState;
  readonly created: number;
  readonly updated: number;
}

const pinsSchema = z.record(z.string(), manifestIdSchema.nullable());
const stateNameSchema = z.enum(ROLLOUT_STATES);

export class FleetStore {
  readonly #db: MetadataDb;

  constructor(db: MetadataDb) {
    this.#db = db;
  }

  async loadDevices(): Promise<DeviceRow[]> {
    const rows = await this.#db.select().from(devices);
    return rows.map((r) => ({
      id: r.id,
      labels: labelsSchema.parse(JSON.parse(r.labels)),
      pins: pinsSchema.parse(JSON.parse(r.pins)),
      outboxRecords: r.outboxRecords,
      transport: r.transport,
      version: r.version,
      errors: z.array(deviceErrorSchema).parse(JSON.parse(r.errors)),
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
    }));
  }

  async loadRollouts(): Promise<RolloutRow[]> {
    const rows = await this.#db.select().from(rollouts);
    return rows.map((r) => ({
      id: r.id,
      stream: r.stream,
      artefact: r.artefact,
      previous: r.previous,
      percentBp: r.percentBp,
      labels: labelsSchema.parse(JSON.parse(r.labels)),
      maxFailurePercent: r.maxFailurePercent,
      state: stateOf(stateNameSchema.parse(r.state), r.reason),
      created: r.createdAt,
      updated: r.updatedAt,
    }));
  }

  async loadFailures(): Promise<{ rolloutId: string; deviceId: string }[]> {
    return this.#db.select({ rolloutId: rolloutFailures.rolloutId, deviceId: rolloutFailures.deviceId }).from(rolloutFailures);
  }

  async saveDevice(d: DeviceRow): Promise<void> {
    const values = {
      labels: JSON.stringify(d.labels),
      pins: JSON.stringify(d.pins),
      outboxRecords: d.outboxRecords,
      transport: d.transport,
      version: d.version,
      errors: JSON.stringify(d.errors),
      lastSeen: d.lastSeen,
    };
    await this.#db
      .insert(devices)
      .values({ id: d.id, firstSeen: d.firstSeen, ...values })
      .onConflictDoUpdate({ target: devices.id, set: values });
  }

  async insertRollout(r: RolloutRow): Promise<void> {
    await this.#db.insert(rollouts).values({
      id: r.id,
      stream: r.stream,
      artefact: r.artefact,
      previous: r.previous,
      percentBp: r.percentBp,
      labels: JSON.stringify(r.labels),
      maxFailurePercent: r.maxFailurePercent,
      state: r.state.kind,
      reason: r.state.kind === "paused" ? r.state.reason : null,
      createdAt: r.created,
      updatedAt: r.updated,
    });
  }

  async updateRollout(r: RolloutRow): Promise<void> {
    await this.#db
      .update(rollouts)
      .set({ percentBp: r.percentBp, state: r.state.kind, reason: r.state.kind === "paused" ? r.state.reason : null, updatedAt: r.updated })
      .where(eq(rollouts.id, r.id));
  }

  async addFailure(rolloutId: string, deviceId: string, message: string, at: number): Promise<void> {
    await this.#db.insert(rolloutFailures).values({ rolloutId, deviceId, message, at }).onConflictDoNothing();
  }
}
