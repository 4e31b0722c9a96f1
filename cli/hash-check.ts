// `strata hash --check LIST...`: verifies b3sum-format lists exactly as `b3sum --check` (1.x)
// does, output and exit status alike. Each line is `HEX  NAME` (64 lowercase hex digits, two
// spaces); a line starting with a backslash has `\\` and `\n` escapes in NAME. Per line, stdout
// gets `NAME: OK` (not with --quiet), `NAME: FAILED`, or `NAME: FAILED (why)` when the file cannot
// be read; a malformed line is reported on stderr. Any of these makes the exit status 1. A list
// that cannot be opened, or is not UTF-8, stops the check there (exit 1).
import { closeSync, createReadStream, openSync } from "node:fs";
import { hashInput, STDIN } from "./hash-input.ts";
import { ioErrorText } from "./io-error-text.ts";
import { readByteLines } from "./read-lines.ts";
import { writeOut } from "./stdout.ts";

const HEX_LENGTH = 64;
const PREFIX_LENGTH = HEX_LENGTH + 2;

type ParsedLine = { readonly kind: "entry"; readonly shown: string; readonly path: string; readonly expected: string } | { readonly kind: "malformed"; readonly reason: string };

function unescape(text: string): string | null {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === "n") out += "\n";
    else if (next === "\\") out += "\\";
    else return null;
  }
  return out;
}

/** One line of a list, as b3sum's parse_check_line reads it (lengths in UTF-8 bytes, as Rust counts). */
export function parseCheckLine(line: string): ParsedLine {
  if (line.length === 0) return { kind: "malformed", reason: "Empty line" };
  const escaped = line.startsWith("\\");
  const rest = escaped ? line.slice(1) : line;
  if (new TextEncoder().encode(rest).length <= PREFIX_LENGTH) return { kind: "malformed", reason: "Short line" };
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(rest.slice(0, PREFIX_LENGTH))) return { kind: "malformed", reason: "Non-ASCII prefix" };
  if (rest.slice(HEX_LENGTH, PREFIX_LENGTH) !== "  ") return { kind: "malformed", reason: "Invalid space" };
  const expected = rest.slice(0, HEX_LENGTH);
  if (!/^[0-9a-f]*$/.test(expected)) return { kind: "malformed", reason: "Invalid hex" };
  const name = rest.slice(PREFIX_LENGTH);
  const path = escaped ? unescape(name) : name;
  if (path === null) return { kind: "malformed", reason: "Invalid backslash escape" };
  if (path.includes("\0")) return { kind: "malformed", reason: "Null character in path" };
  if (path.includes("\ufffd")) return { kind: "malformed", reason: "Unicode replacement character in path" };
  return { kind: "entry", shown: escaped ? `\\${name}` : name, path, expected };
}

/** Checks one entry; prints its verdict; true when the file matches. */
async function checkEntry(entry: Extract<ParsedLine, { kind: "entry" }>, quiet: boolean): Promise<boolean> {
  let found: string;
  try {
    found = await hashInput(entry.path, HEX_LENGTH / 2);
  } catch (e) {
    await writeOut(`${entry.shown}: FAILED (${ioErrorText(e)})\n`);
    return false;
  }
  if (found !== entry.expected) {
    await writeOut(`${entry.shown}: FAILED\n`);
    return false;
  }
  if (!quiet) await writeOut(`${entry.shown}: OK\n`);
  return true;
}

/** Bytes of a list: standard input, or the file (opened now, so a missing one fails here). */
function openList(list: string): AsyncIterable<Uint8Array | string> {
  if (list === STDIN) return process.stdin;
  const fd = openSync(list, "r");
  try {
    return createReadStream(list, { fd, autoClose: true });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Checks every list in turn; returns the exit status. */
export async function checkLists(lists: readonly string[], options: { readonly quiet: boolean }): Promise<number> {
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let failed = false;
  for (const list of lists) {
    try {
      for await (const bytes of readByteLines(openList(list))) {
        let line: string;
        try {
          line = utf8.decode(bytes);
        } catch {
          process.stderr.write(`strata hash: ${list}: stream did not contain valid UTF-8\n`);
          return 1;
        }
        const parsed = parseCheckLine(line);
        if (parsed.kind === "malformed") {
          process.stderr.write(`strata hash: ${parsed.reason}\n`);
          failed = true;
        } else if (!(await checkEntry(parsed, options.quiet))) {
          failed = true;
        }
      }
    } catch (e) {
      process.stderr.write(`strata hash: ${list}: ${ioErrorText(e)}\n`);
      return 1;
    }
  }
  return failed ? 1 : 0;
}
