// Token scopes: what a token may do, and on which streams. A scope is an action and a NATS-style
// glob over stream names (segments split on "/"; "*" matches one segment, ">" matches one or
// more trailing segments). Used by the gateway to authorise and by clients to spell scopes.
import { StrataError } from "../errors.ts";

export const ACTIONS = ["publish", "consume", "admin", "metrics"] as const;
export type Action = (typeof ACTIONS)[number];

export interface Scope {
  readonly action: Action;
  /** A glob over stream names: `sensors/>`, `telemetry/*\/raw`, `>` (every stream). */
  readonly streams: string;
}

function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}

/** Why a glob is not well formed, or undefined if it is. */
export function globProblem(glob: string): string | undefined {
  if (glob.length === 0) return "the stream glob is empty";
  const segments = glob.split("/");
  for (const [i, segment] of segments.entries()) {
    if (segment.length === 0) return `the stream glob ${JSON.stringify(glob)} has an empty segment`;
    if (segment === ">" && i !== segments.length - 1) return `">" may only be the last segment of ${JSON.stringify(glob)}`;
    if (segment !== ">" && segment !== "*" && (segment.includes("*") || segment.includes(">"))) {
      return `"*" and ">" must be whole segments in ${JSON.stringify(glob)}`;
    }
  }
  return undefined;
}

/** True when `stream` matches `glob` (`*` one segment, `>` the rest: one or more segments). */
export function matchStreams(glob: string, stream: string): boolean {
  const pattern = glob.split("/");
  const name = stream.split("/");
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === ">") return name.length > i;
    if (i >= name.length) return false;
    if (p !== "*" && p !== name[i]) return false;
  }
  return pattern.length === name.length;
}

/**
 * True when the scopes allow `action`, on `stream` if given, or on at least one stream if not
 * (the chunk routes: "allowed to publish somewhere"). An admin scope allows every action on the
 * streams it matches; the `metrics` action names no stream.
 */
export function allows(scopes: readonly Scope[], action: Action, stream?: string): boolean {
  return scopes.some((scope) => {
    if (scope.action !== action && scope.action !== "admin") return false;
    return stream === undefined || matchStreams(scope.streams, stream);
  });
}

/** Parses `ACTION:GLOB` (`publish:sensors/>`); BAD_REQUEST says what is wrong. */
export function parseScope(text: string): Scope {
  const colon = text.indexOf(":");
  if (colon < 0) throw new StrataError("BAD_REQUEST", `scope ${JSON.stringify(text)} must be ACTION:STREAMS, e.g. publish:sensors/>`);
  const action = text.slice(0, colon);
  const streams = text.slice(colon + 1);
  if (!isAction(action)) throw new StrataError("BAD_REQUEST", `scope action ${JSON.stringify(action)} must be one of ${ACTIONS.join(", ")}`);
  const problem = globProblem(streams);
  if (problem !== undefined) throw new StrataError("BAD_REQUEST", `scope ${JSON.stringify(text)}: ${problem}`);
  return { action, streams };
}

/** The text form parseScope reads. */
export function formatScope(scope: Scope): string {
  return `${scope.action}:${scope.streams}`;
}
