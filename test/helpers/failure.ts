// The StrataError a promise rejects with; any other rejection, or none, fails the test.
import { StrataError } from "../../core/errors.ts";

export async function failure(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("expected a failure");
}
