// A one-line progress bar on a terminal (stderr), redrawn at most every REDRAW_MS; nothing when
// stderr is not a terminal.
import type { TransferProgress } from "../edge/artefacts/index.ts";

const REDRAW_MS = 100;
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

export function progressBar(verb: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = performance.now();
  let last = 0;
  let drawn = false;
  let latest: TransferProgress | null = null;
  const draw = (): void => {
    const p = latest;
    if (!p) return;
    const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? p.bytesTransferred / seconds : 0;
    const moved = verb === "push" ? "sent" : "received";
    const line =
      `${verb} ${p.phase.padEnd(11)} [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${moved} ${formatBytes(p.bytesTransferred)} in ${p.chunksTransferred} chunks  ${formatBytes(rate)}/s`;
    const width = stream.columns && stream.columns > 20 ? stream.columns - 1 : 120;
    stream.write(`\r\x1b[2K${line.slice(0, width)}`);
    drawn = true;
  };
  return {
    update(p) {
      latest = p;
      const now = performance.now();
      if (now - last >= REDRAW_MS || p.phase === "done") {
        last = now;
        draw();
      }
    },
    finish() {
      draw();
      if (drawn) stream.write("\n");
    },
  };
}
