// The device's heartbeat (docs/fleet.md): before each pin round the edge node reports its labels,
// what each pinned file holds, its outbox depth, transport, version and the rollout targets that
// failed here to POST /v1/devices/{id}/heartbeat; the answer says which artefact each pinned
// stream under a rollout should hold. A refusal (a gateway without the fleet routes, 404; a token
// without publish on _strata/devices/{id}, 403; a report past the gateway's fleet limits, 400)
// turns the reports off for this run, with one notice: pins then follow their stream's newest
// artefact, as without rollouts. A refused token (401) ends the run, as it does elsewhere.
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { GatewayHttp } from "../artefacts/gateway-http.ts";
import type { DeviceIdentity } from "../store/device.ts";
import { isFatal, isTransient } from "./errors.ts";

export type FailureStage = "download" | "verify" | "callback";

export interface DeviceFailure {
  readonly stream: string;
  readonly artefact: string;
  readonly stage: FailureStage;
  readonly message: string;
}

/** What the node reports besides its identity. */
export interface DeviceSnapshot {
  readonly pins: Readonly<Record<string, string | null>>;
  readonly outboxRecords: number;
  readonly transport: string;
}

/** A pinned stream under a rollout: the artefact to hold, null to keep what the file holds. */
export interface RolloutTarget {
  readonly artefact: string | null;
  readonly rollout: string;
}

const answerSchema = z.object({
  device: z.string(),
  targets: z.record(z.string(), z.object({ artefact: z.string().regex(/^[0-9a-f]{64}$/).nullable(), rollout: z.string() })),
});

/** A report carries at most this many failures (the gateway's default bound). */
const MAX_REPORTED_FAILURES = 32;
const MAX_MESSAGE_CHARS = 500;

export type DeviceReportState = { readonly kind: "reporting" } | { readonly kind: "off"; readonly reason: string };

export class DeviceReporter {
  readonly #http: GatewayHttp;
  readonly #device: DeviceIdentity;
  readonly #version: string;
  readonly #notice: (message: string) => void;
  /** Per stream, the target that failed here: reported with every heartbeat and not tried again until the target changes. */
  readonly #failed = new Map<string, DeviceFailure>();
  #state: DeviceReportState = { kind: "reporting" };

  constructor(http: GatewayHttp, device: DeviceIdentity, version: string, notice: (message: string) => void) {
    this.#http = http;
    this.#device = device;
    this.#version = version;
    this.#notice = notice;
  }

  get state(): DeviceReportState {
    return this.#state;
  }

  fail(failure: DeviceFailure): void {
    this.#failed.set(failure.stream, { ...failure, message: failure.message.slice(0, MAX_MESSAGE_CHARS) });
  }

  /** Whether `artefact` already failed on `stream` here (it is not retried while it stays the target). */
  failed(stream: string, artefact: string): boolean {
    return this.#failed.get(stream)?.artefact === artefact;
  }

  /** Sends the heartbeat; the targets of pinned streams under a rollout, or null when reports are off. */
  async report(snapshot: DeviceSnapshot, signal: AbortSignal): Promise<Map<string, RolloutTarget> | null> {
    if (this.#state.kind === "off") return null;
    const sending = [...this.#failed.values()].slice(0, MAX_REPORTED_FAILURES);
    const body = {
      labels: this.#device.labels,
      pins: snapshot.pins,
      outbox_records: snapshot.outboxRecords,
      transport: snapshot.transport.slice(0, 64),
      version: this.#version.slice(0, 64),
      ...(sending.length > 0 ? { errors: sending } : {}),
    };
    const path = `/v1/devices/${encodeURIComponent(this.#device.id)}/heartbeat`;
    let answer: unknown;
    try {
      const response = await this.#http.request(path, { method: "POST", body: JSON.stringify(body), contentType: "application/json", accept: "application/json", idempotent: true, signal }, `POST ${path}`);
      answer = await response.json();
    } catch (e) {
      // Refused (no fleet routes, out of scope, past the gateway's fleet limits): no retry mends it.
      if (e instanceof StrataError && !isTransient(e) && !isFatal(e)) {
        this.#state = { kind: "off", reason: `${e.code}: ${e.message}` };
        this.#notice(`device reports off for this run (pins follow their stream's newest artefact): ${e.message}`);
        return null;
      }
      throw e;
    }
    const parsed = answerSchema.safeParse(answer);
    if (!parsed.success) throw new StrataError("CORRUPT_DATA", `POST ${path}: malformed answer: ${parsed.error.message}`);
    const targets = new Map<string, RolloutTarget>(Object.entries(parsed.data.targets));
    // A target that moved on (a new rollout, a rollback) may be tried again later.
    for (const [stream, failure] of this.#failed) if (targets.get(stream)?.artefact !== failure.artefact) this.#failed.delete(stream);
    return targets;
  }
}
