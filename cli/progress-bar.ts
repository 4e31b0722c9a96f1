// The progress line of push and pull on stderr: bytes sent (push) or received (pull) of those
// that have to move, the rate over the last seconds, and the time left. On a terminal it is
// redrawn in place; forced with --progress elsewhere, it prints a line every second.
import type { TransferProgress } from "../edge/artefacts/index.ts";
import { formatDuration, RateMeter, secondsLeft } from "./transfer-rate.ts";

const TTY_REDRAW_MS = 100;
const LINE_EVERY_MS = 1_000;
const BAR_WIDTH = 24;

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

export interface ProgressBar {
  update(p: TransferProgress): void;
  finish(): void;
}

export type Direction = "push" | "pull";

/**
 * The bytes that will have moved when the transfer is done. While a push is still scanning, only
 * part of the file has been compared with the gateway: the rest is assumed to need sending in
 * the same proportion (an estimate, marked "~").
 */
function expectedBytes(p: TransferProgress, direction: Direction): { bytes: number; estimate: boolean } {
  const scanning = direction === "push" && p.phase === "scanning" && p.bytesDone < p.bytesTotal;
  if (!scanning) return { bytes: p.bytesToTransfer, estimate: false };
  if (p.bytesDone === 0) return { bytes: p.bytesTotal, estimate: true };
  return { bytes: Math.max(p.bytesToTransfer, Math.round((p.bytesToTransfer * p.bytesTotal) / p.bytesDone)), estimate: true };
}

/** One line describing `p`, `rate` in bytes/s. */
export function progressLine(direction: Direction, p: TransferProgress, rate: number): string {
  const moved = direction === "push" ? "sent" : "received";
  const expected = expectedBytes(p, direction);
  const done = p.phase === "done" || p.phase === "publishing";
  const fraction = done ? 1 : expected.bytes > 0 ? Math.min(1, p.bytesTransferred / expected.bytes) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const eta = done ? 0 : p.phase === "resolving" ? Number.NaN : secondsLeft(expected.bytes - p.bytesTransferred, rate);
  const scanned = direction === "push" && p.phase === "scanning" && p.bytesTotal > 0 ? `  scanned ${((p.bytesDone / p.bytesTotal) * 100).toFixed(0)}%` : "";
  return (
    `${direction} ${p.phase.padEnd(11)} [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
    `${formatBytes(p.bytesTransferred)}/${expected.estimate ? "~" : ""}${formatBytes(expected.bytes)} ${moved}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}${scanned}`
  );
}

/** A bar on `stream`: drawn in place on a terminal, as lines when `forced` elsewhere, else nothing. */
export function progressBar(direction: Direction, options: { forced: boolean; stream?: NodeJS.WriteStream }): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  if (!tty && !options.forced) return { update() {}, finish() {} };
  const meter = new RateMeter();
  let lastDraw = Number.NEGATIVE_INFINITY;
  let drawn = false;
  let latest: TransferProgress | null = null;
  const draw = (): void => {
    if (!latest) return;
    const line = progressLine(direction, latest, meter.rate());
    if (tty) {
      const width = stream.columns && stream.columns > 20 ? stream.columns - 1 : 120;
      stream.write(`\r\x1b[2K${line.slice(0, width)}`);
    } else {
      stream.write(`${line}\n`);
    }
    drawn = true;
  };
  return {
    update(p) {
      latest = p;
      const now = performance.now();
      meter.add(now, p.bytesTransferred);
      if (now - lastDraw >= (tty ? TTY_REDRAW_MS : LINE_EVERY_MS)) {
        lastDraw = now;
        draw();
      }
    },
    finish() {
      draw();
      if (drawn && tty) stream.write("\n");
    },
  };
}
