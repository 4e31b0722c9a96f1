// What a fuzzed decoder may do with an input: accept it, or refuse it with a StrataError whose
// code maps to a 4xx status. Anything else (a TypeError, RangeError, stack overflow, INTERNAL or
// any other 5xx code, or a broken property of an accepted input) is a failure.
import { isStrataError } from "../../core/errors.ts";

/** Thrown by a target when an input it accepted breaks a property (e.g. cannot be read back). */
export class PropertyViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PropertyViolation";
  }
}

export type Outcome = { readonly kind: "accepted" } | { readonly kind: "refused"; readonly code: string } | { readonly kind: "failed"; readonly reason: string };

export function describeError(e: unknown): string {
  if (isStrataError(e)) return `StrataError ${e.code} (${e.status}): ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}${e.cause === undefined ? "" : ` (cause: ${describeError(e.cause)})`}`;
  return `non-Error thrown: ${String(e)}`;
}

export function outcomeOf(run: () => void): Outcome {
  try {
    run();
    return { kind: "accepted" };
  } catch (e) {
    if (isStrataError(e) && e.status >= 400 && e.status < 500) return { kind: "refused", code: e.code };
    return { kind: "failed", reason: describeError(e) };
  }
}
