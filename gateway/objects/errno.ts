// Reading Node-style system errors without casts: the errno code ("ENOENT", "EIO", ...) and a
// message for any thrown value.

/** The `code` of a system error (or of anything thrown that carries a string code). */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

/** The message of an Error, or the thrown value as text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
