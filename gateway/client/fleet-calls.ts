// Devices and rollouts from the client library (docs/fleet.md): list devices by label, start a
// rollout, set its percentage, roll it back, read its status. Answers are checked by the same
// schemas the gateway's routes use (gateway/fleet/fleet-wire.ts).
import { deviceListSchema, rolloutInfoSchema, rolloutListSchema, type DeviceList, type RolloutInfo, type StartRolloutBody } from "../fleet/fleet-wire.ts";
import { callGateway, type GatewayConnection } from "./gateway-call.ts";

export interface FleetCallOptions {
  readonly signal?: AbortSignal;
}

const seg = encodeURIComponent;

/** Devices whose labels include every `labels` pair, by id (at most `limit`). */
export async function listDevices(connection: GatewayConnection, labels: Readonly<Record<string, string>> = {}, options: FleetCallOptions & { readonly limit?: number } = {}): Promise<DeviceList> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(labels)) query.append("label", `${k}=${v}`);
  if (options.limit !== undefined) query.set("limit", String(options.limit));
  const q = query.size > 0 ? `?${query.toString()}` : "";
  return (await callGateway(connection, "GET", `/v1/devices${q}`, deviceListSchema, undefined, options.signal)).value;
}

export async function startRollout(connection: GatewayConnection, body: StartRolloutBody, options: FleetCallOptions = {}): Promise<RolloutInfo> {
  return (await callGateway(connection, "POST", "/v1/rollouts", rolloutInfoSchema, body, options.signal)).value;
}

export async function setRolloutPercent(connection: GatewayConnection, id: string, percent: number, options: FleetCallOptions = {}): Promise<RolloutInfo> {
  return (await callGateway(connection, "PATCH", `/v1/rollouts/${seg(id)}`, rolloutInfoSchema, { percent }, options.signal)).value;
}

export async function rollBackRollout(connection: GatewayConnection, id: string, options: FleetCallOptions = {}): Promise<RolloutInfo> {
  return (await callGateway(connection, "POST", `/v1/rollouts/${seg(id)}/rollback`, rolloutInfoSchema, undefined, options.signal)).value;
}

export async function rolloutStatus(connection: GatewayConnection, id: string, options: FleetCallOptions = {}): Promise<RolloutInfo> {
  return (await callGateway(connection, "GET", `/v1/rollouts/${seg(id)}`, rolloutInfoSchema, undefined, options.signal)).value;
}

/** Every rollout the token may read, newest first. */
export async function listRollouts(connection: GatewayConnection, options: FleetCallOptions = {}): Promise<RolloutInfo[]> {
  return (await callGateway(connection, "GET", "/v1/rollouts", rolloutListSchema, undefined, options.signal)).value.rollouts;
}
