// LogTape reads a record's message as a template whose `{name}` are its properties. Messages
// built from request data (a path, a route's regex, a token subject) must print as they are.

/** `text` as a LogTape message that prints verbatim: its braces are escaped, not placeholders. */
export function literal(text: string): string {
  return text.includes("{") || text.includes("}") ? text.replaceAll("{", "{{").replaceAll("}", "}}") : text;
}
