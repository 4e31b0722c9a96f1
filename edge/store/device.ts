// The device identity an edge node reports with its heartbeat (docs/fleet.md): an id given by the
// operator (`--device-id`), or derived from the producer identity the edge database draws once
// when the data directory is created (so it stays the same across restarts without a row of its
// own), and labels (`--label k=v`) the gateway selects devices by.
import { StrataError } from "../../core/errors.ts";
import type { ProducerIdentity } from "./outbox.ts";

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const LABEL_VALUE = /^[A-Za-z0-9._/-]{0,128}$/;

export interface DeviceIdentity {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** `d-` and the producer id in 14 hex digits: unique per data directory, stable across restarts. */
export function derivedDeviceId(producer: ProducerIdentity): string {
  return `d-${producer.id.toString(16).padStart(14, "0")}`;
}

export function deviceIdentity(producer: ProducerIdentity, deviceId: string | undefined, labels: Readonly<Record<string, string>> | undefined): DeviceIdentity {
  const id = deviceId ?? derivedDeviceId(producer);
  if (!DEVICE_ID.test(id)) throw new StrataError("BAD_REQUEST", `device id ${JSON.stringify(id)} must be 1-128 of A-Z a-z 0-9 . _ - (not starting with . _ -)`);
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) throw new StrataError("BAD_REQUEST", `label ${JSON.stringify(`${k}=${v}`)} must be KEY=VALUE of A-Z a-z 0-9 . _ / - (at most 128 each)`);
  }
  return { id, labels: Object.freeze({ ...labels }) };
}

/** Parses `KEY=VALUE` (as `--label` spells a label). */
export function parseLabel(text: string): readonly [string, string] {
  const eq = text.indexOf("=");
  const key = text.slice(0, Math.max(0, eq));
  const value = text.slice(eq + 1);
  if (eq <= 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new StrataError("BAD_REQUEST", `a label is KEY=VALUE of A-Z a-z 0-9 . _ / -, got ${JSON.stringify(text)}`);
  return [key, value];
}
