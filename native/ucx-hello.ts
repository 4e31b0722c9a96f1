// The first frame each side of a connection sends on its stream: its host's identity and its
// worker's UCP address, so the side that issues gets can open a second endpoint by address to a
// peer on the same host (native/ucx-rma-lane.ts; UCX 1.13 never carries a socket-address
// endpoint's gets over shared memory or cma).
//   "SUXA" (little-endian u32) | u16 host id length | host id (UTF-8) | UCP worker address of the
//   RMA worker (empty: that side has no shared-memory or cma transport, so no one-sided path)
import { hostname } from "node:os";
import { StrataError } from "../core/errors.ts";

const MAGIC = 0x41585553; // "SUXA" read as a little-endian u32
/** UCP worker addresses are hundreds of bytes (more with many devices); the hello frame is read with this bound, not maxMessageBytes. */
export const MAX_HELLO_BYTES = 64 * 1024;

export interface Hello {
  /** Equal on both sides when they run on one host (its hostname). */
  readonly hostId: string;
  readonly workerAddress: Uint8Array;
}

/**
 * The hostname. UCX itself decides reachability (sux keeps a worker-address endpoint only when
 * every lane is shared memory or cma); the host id only spares creating one to another host. (Not
 * the kernel's boot id: Deno refuses /proc reads without --allow-all.)
 */
export function localHostId(): string {
  return hostname();
}

export function encodeHello(hello: Hello): Uint8Array {
  const host = new TextEncoder().encode(hello.hostId);
  if (host.length > 0xffff) throw new StrataError("BAD_REQUEST", "host id too long for a UCX hello");
  const out = new Uint8Array(6 + host.length + hello.workerAddress.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, host.length, true);
  out.set(host, 6);
  out.set(hello.workerAddress, 6 + host.length);
  return out;
}

/** BAD_REQUEST when the frame is not a hello (a peer that is not Strata's). */
export function decodeHello(frame: Uint8Array): Hello {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 6 || view.getUint32(0, true) !== MAGIC) throw notHello();
  const hostLength = view.getUint16(4, true);
  if (6 + hostLength > frame.length) throw notHello();
  return { hostId: new TextDecoder().decode(frame.subarray(6, 6 + hostLength)), workerAddress: frame.slice(6 + hostLength) };
}

function notHello(): StrataError {
  return new StrataError("BAD_REQUEST", "the UCX peer's first frame is not a Strata hello (its host and worker address)");
}
