// UCX statuses (ucs_status_t, and sux's own below -100: native/src/sux.h) as StrataErrors with
// stable codes. The message carries UCX's status name.
import { StrataError, type ErrorCode } from "../core/errors.ts";

export const UCS_OK = 0;
export const SUX_ERR_RING_FULL = -110;
export const SUX_ERR_TOO_LARGE = -111;
export const SUX_ERR_CLOSED = -112;
export const SUX_ERR_TOO_MANY_ENDPOINTS = -113;
export const SUX_ERR_BAD_ADDRESS = -114;
export const SUX_ERR_NOT_INTRA_HOST = -115;

/** Statuses that mean the endpoint or its peer is gone: the caller should fall back to another path. */
const GONE = new Set([
  -6 /* UNREACHABLE */,
  -16 /* CANCELED */,
  -20 /* TIMED_OUT */,
  -23 /* REJECTED */,
  -24 /* NOT_CONNECTED */,
  -25 /* CONNECTION_RESET */,
  -80 /* ENDPOINT_TIMEOUT */,
  SUX_ERR_CLOSED,
]);

export function codeOfStatus(status: number): ErrorCode {
  if (GONE.has(status)) return "UCX_UNAVAILABLE";
  switch (status) {
    case SUX_ERR_TOO_LARGE:
      return "PAYLOAD_TOO_LARGE";
    case SUX_ERR_RING_FULL:
    case SUX_ERR_TOO_MANY_ENDPOINTS:
      return "UNAVAILABLE";
    case SUX_ERR_BAD_ADDRESS:
    case -5 /* INVALID_PARAM */:
    case -7 /* INVALID_ADDR */:
      return "BAD_REQUEST";
    default:
      return "UCX_TRANSFER_FAILED";
  }
}

export function statusError(status: number, statusName: string, what: string): StrataError {
  return new StrataError(codeOfStatus(status), `${what}: ${statusName} (UCX status ${status})`);
}
