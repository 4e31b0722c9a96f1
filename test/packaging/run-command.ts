// Runs a command to completion and answers its output; a non-zero exit rejects with everything
// it printed, so a failing step of a packaging test says what went wrong.
import { spawn } from "node:child_process";

export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

export function runCommand(argv: readonly string[], cwd: string): Promise<CommandOutput> {
  const [command, ...args] = argv;
  if (!command) throw new Error("runCommand: empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${argv.join(" ")} (in ${cwd}) exited with ${code ?? signal}:\n${stdout}${stderr}`));
    });
  });
}
