// Finds a Python interpreter that imports msgpack and numpy, for the tests of the Python client
// (python/strata). The `python3` first on PATH is often a pyenv shim without Debian's packages,
// so candidates are /usr/bin/python3 and then every `python3` on PATH, in order; when none has
// them, Debian's python3-msgpack and python3-numpy are installed with apt-get. torch is optional
// and installed separately by ensurePythonTorch(). Answers are cached for the test process.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ROOT } from "./gateway.ts";

export const PYTHON_DIR = join(ROOT, "python");

export interface PythonResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunPythonOptions {
  readonly env?: Record<string, string>;
  readonly input?: string;
  readonly cwd?: string;
  /** Kills the interpreter after this long (default 120 s); a killed run reports code -1. */
  readonly timeoutMs?: number;
}

let cachedInterpreter: string | undefined;
let cachedTorch: boolean | undefined;
let aptUpdated = false;

function imports(interpreter: string, modules: string): boolean {
  const result = spawnSync(interpreter, ["-c", `import ${modules}`], { stdio: "pipe", encoding: "utf8", timeout: 120_000 });
  return result.status === 0;
}

/** /usr/bin/python3 first, then each python3 on PATH (what `type -a python3` lists), deduplicated. */
function candidates(): string[] {
  const found = ["/usr/bin/python3"];
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, "python3");
    if (existsSync(path) && !found.includes(path)) found.push(path);
  }
  return found.filter((path) => existsSync(path));
}

/** apt-get install (apt-get update first, once per test process); throws with apt's output on failure. */
export function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    const update = spawnSync("apt-get", ["update"], { stdio: "pipe", encoding: "utf8", env });
    if (update.status !== 0) throw new Error(`apt-get update failed:\n${update.stdout}${update.stderr}`);
    aptUpdated = true;
  }
  const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "pipe", encoding: "utf8", env });
  if (install.status !== 0) throw new Error(`apt-get install ${packages.join(" ")} failed:\n${install.stdout}${install.stderr}`);
}

function findInterpreter(): string | undefined {
  return candidates().find((path) => imports(path, "msgpack, numpy"));
}

/** The path of a Python interpreter that imports msgpack and numpy (installing Debian's packages if none does). */
export function python(): string {
  if (cachedInterpreter !== undefined) return cachedInterpreter;
  let found = findInterpreter();
  if (found === undefined) {
    aptInstall(["python3", "python3-msgpack", "python3-numpy"]);
    found = findInterpreter();
  }
  if (found === undefined) throw new Error(`no python3 imports msgpack and numpy (tried ${candidates().join(", ")}), even after apt-get install`);
  cachedInterpreter = found;
  return found;
}

/** Whether python() imports torch, installing Debian's python3-torch when it does not. False if that install fails. */
export function ensurePythonTorch(): boolean {
  if (cachedTorch !== undefined) return cachedTorch;
  const interpreter = python();
  if (!imports(interpreter, "torch")) {
    try {
      aptInstall(["python3-torch"]);
    } catch {
      cachedTorch = false;
      return false;
    }
  }
  cachedTorch = imports(interpreter, "torch");
  return cachedTorch;
}

function pythonEnv(options: RunPythonOptions): NodeJS.ProcessEnv {
  const inherited = options.env?.["PYTHONPATH"] ?? process.env["PYTHONPATH"];
  return {
    ...process.env,
    ...options.env,
    PYTHONPATH: inherited ? `${PYTHON_DIR}${delimiter}${inherited}` : PYTHON_DIR,
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

/**
 * Runs python() with `args`, PYTHONPATH set to the repository's python/ folder (before any
 * inherited one). Synchronous: the test process's event loop waits, so use runPythonAsync while
 * a gateway child's output pipes or an in-process gateway must keep being served.
 */
export function runPython(args: string[], options: RunPythonOptions = {}): PythonResult {
  const result = spawnSync(python(), args, {
    cwd: options.cwd ?? ROOT,
    env: pythonEnv(options),
    input: options.input,
    stdio: "pipe",
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

/** runPython without blocking the event loop (a gateway in this process, or a child's pipes, keep being served). */
export function runPythonAsync(args: string[], options: RunPythonOptions = {}): Promise<PythonResult> {
  const child = spawn(python(), args, { cwd: options.cwd ?? ROOT, env: pythonEnv(options), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
