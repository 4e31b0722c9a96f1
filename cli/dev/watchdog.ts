// Children of a dev launcher never outlive it: a detached shell per child polls the parent's pid
// (once a second) and, when the parent is gone (even by SIGKILL, which runs no exit hook), stops
// the child: SIGCONT (a child stopped with SIGSTOP could not act on SIGTERM), SIGTERM, then
// SIGKILL after a grace period. The shell exits by itself once the child has exited.
import { spawn } from "node:child_process";

const GRACE_SECONDS = 5;

const SCRIPT = `
while kill -0 "$PARENT" 2>/dev/null && kill -0 "$CHILD" 2>/dev/null; do sleep 1; done
kill -0 "$CHILD" 2>/dev/null || exit 0
kill -CONT "$CHILD" 2>/dev/null; kill -TERM "$CHILD" 2>/dev/null
i=0; while [ $i -lt $((GRACE * 5)) ] && kill -0 "$CHILD" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
kill -KILL "$CHILD" 2>/dev/null; exit 0`;

/** Stops `childPid` once `parentPid` (default: this process) is gone. */
export function guardChild(childPid: number, parentPid: number = process.pid): void {
  const watchdog = spawn("sh", ["-c", SCRIPT], {
    detached: true,
    stdio: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PARENT: String(parentPid), CHILD: String(childPid), GRACE: String(GRACE_SECONDS) },
  });
  watchdog.unref();
}
