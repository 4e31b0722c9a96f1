// `strata tokens issue|list|revoke` and --token / STRATA_TOKEN on the client commands, against a
// real `strata serve --auth` process: the admin token the gateway wrote to DATA/admin.token issues
// scoped tokens; each client command works with a token in scope, and exits 1 with a message
// naming what is missing without one (UNAUTHENTICATED) or out of scope (FORBIDDEN); a revoked
// token is refused by the next request.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ROOT, type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

// Each test runs the CLI several times as child processes.
setDefaultTimeout(120_000);

let gateway: GatewayProcess;
let admin = "";
let work = "";

beforeAll(async () => {
  gateway = await startGateway({ args: ["--auth"] });
  admin = readFileSync(join(gateway.dataDir, "admin.token"), "utf8").trim();
  work = tempDir("strata-cli-tokens-");
});

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
  removeDir(work);
});

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `strata ARGS --gateway URL` (no --gateway for `edge publish`), with STRATA_TOKEN set only when `envToken` is given. */
function strata(args: string[], options: { envToken?: string; input?: string } = {}): Run {
  const { STRATA_TOKEN: _ignored, ...env } = process.env;
  const offline = args[0] === "edge" && args[1] === "publish";
  const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args, ...(offline ? [] : ["--gateway", gateway.url])], {
    input: options.input,
    encoding: "utf8",
    env: { ...env, ...(options.envToken !== undefined ? { STRATA_TOKEN: options.envToken } : {}) },
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: Run): string {
  if (run.status !== 0) throw new Error(`exit ${run.status}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

const issued = z.object({ token: z.string().min(1), id: z.string().min(1), expires_at: z.string() });
const listed = z.object({
  tokens: z.array(z.object({ id: z.string(), subject: z.string(), scopes: z.array(z.object({ action: z.string(), streams: z.string() })), issued_at: z.string(), expires_at: z.string(), revoked_at: z.string().nullable() })),
});

function issue(scopes: string[], subject: string): z.output<typeof issued> {
  return issued.parse(JSON.parse(ok(strata(["tokens", "issue", ...scopes.flatMap((s) => ["--scope", s]), "--ttl", "1h", "--subject", subject, "--json", "--token", admin]))));
}

describe("strata tokens", () => {
  test("issue prints a token; list shows it without its secret; revoke makes the gateway refuse it", () => {
    const alone = ok(strata(["tokens", "issue", "--scope", "consume:cli/>", "--ttl", "24h"], { envToken: admin })).trim();
    expect(alone.split(".")).toHaveLength(3); // a compact JWS and nothing else, for TOKEN=$(strata tokens issue ...)

    const token = issue(["publish:cli/>", "consume:cli/>"], "alice");
    const list = ok(strata(["tokens", "list", "--json", "--token", admin]));
    expect(list).not.toContain(token.token);
    const entry = listed.parse(JSON.parse(list)).tokens.find((t) => t.id === token.id);
    expect(entry).toEqual({ id: token.id, subject: "alice", scopes: [{ action: "publish", streams: "cli/>" }, { action: "consume", streams: "cli/>" }], revoked_at: null, issued_at: expect.any(String), expires_at: token.expires_at });
    expect(ok(strata(["tokens", "list"], { envToken: admin }))).toContain(`${token.id}\tsubject=alice\tscopes=publish:cli/>,consume:cli/>`);

    ok(strata(["publish", "cli/revoked", "--json", '{"n": 1}', "--token", token.token]));
    expect(ok(strata(["tokens", "revoke", token.id, "--token", admin]))).toBe(`revoked ${token.id}\n`);
    const refused = strata(["publish", "cli/revoked", "--json", '{"n": 2}', "--token", token.token]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("UNAUTHENTICATED");
    expect(listed.parse(JSON.parse(ok(strata(["tokens", "list", "--json", "--token", admin])))).tokens.find((t) => t.id === token.id)?.revoked_at).not.toBeNull();
  });

  test("a token that is not admin cannot issue, list or revoke", () => {
    const token = issue(["publish:cli/>"], "bob");
    for (const args of [["issue", "--scope", "admin:>", "--ttl", "1h"], ["list"], ["revoke", token.id]]) {
      const run = strata(["tokens", ...args, "--token", token.token]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("FORBIDDEN");
    }
  });

  test("bad scopes and durations are usage errors (exit 2) before any request", () => {
    for (const args of [["--scope", "publish"], ["--scope", "write:x"], ["--scope", "publish:a/>/b"]]) {
      const run = strata(["tokens", "issue", ...args, "--ttl", "1h", "--token", admin]);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain("--scope");
    }
    const ttl = strata(["tokens", "issue", "--scope", "publish:a", "--ttl", "1y", "--token", admin]);
    expect(ttl.status).toBe(2);
    expect(ttl.stderr).toContain("--ttl");
  });
});

describe("--token and STRATA_TOKEN on the client commands", () => {
  test("streams, publish and consume: in scope, without a token, out of scope", () => {
    const token = issue(["publish:cli/app/>", "consume:cli/app/>"], "carol").token;
    ok(strata(["streams", "create", "cli/app/events", "--token", token]));
    ok(strata(["publish", "cli/app/events", "--json", '{"n": 1}'], { envToken: token }));
    const consumed = ok(strata(["consume", "cli/app/events", "--token", token]));
    expect(JSON.parse(consumed.trim()).fields).toEqual({ n: 1 });
    expect(ok(strata(["streams", "get", "cli/app/events", "--token", token]))).toContain('"name":"cli/app/events"');
    expect(ok(strata(["streams", "list", "--token", token]))).toContain("cli/app/events\t");

    for (const args of [["streams", "list"], ["publish", "cli/app/events", "--json", '{"n": 2}'], ["consume", "cli/app/events"]]) {
      const run = strata(args);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("UNAUTHENTICATED");
      expect(run.stderr).toContain("--token TOKEN or STRATA_TOKEN");
    }
    for (const args of [["publish", "cli/other", "--json", '{"n": 2}'], ["streams", "get", "cli/other"], ["streams", "create", "cli/other"]]) {
      const run = strata([...args, "--token", token]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("FORBIDDEN");
      expect(run.stderr).toContain("scopes do not cover");
    }
    const badSignature = strata(["consume", "cli/app/events", "--token", `${token.slice(0, -4)}AAAA`]);
    expect(badSignature.status).toBe(1);
    expect(badSignature.stderr).toContain("UNAUTHENTICATED");
  });

  test("push and pull: in scope, without a token, out of scope", () => {
    const token = issue(["publish:cli/models/>", "consume:cli/models/>"], "dave").token;
    const other = issue(["consume:elsewhere/>"], "erin").token;
    const file = join(work, "weights.bin");
    writeFileSync(file, new Uint8Array(200_000).map((_, i) => (i * 13) % 256));
    ok(strata(["push", file, "--stream", "cli/models/m", "--quiet", "--token", token]));
    const out = join(work, "pulled.bin");
    ok(strata(["pull", "cli/models/m", out, "--quiet", "--cache", join(work, "cache")], { envToken: token }));
    expect(readFileSync(out)).toEqual(readFileSync(file));

    for (const [args, code] of [
      [["push", file, "--stream", "cli/models/m", "--quiet"], "UNAUTHENTICATED"],
      [["pull", "cli/models/m", out, "--quiet", "--cache", join(work, "cache-2")], "UNAUTHENTICATED"],
      [["push", file, "--stream", "cli/models/m", "--quiet", "--token", other], "FORBIDDEN"],
      [["pull", "cli/models/m", out, "--quiet", "--cache", join(work, "cache-2"), "--token", other], "FORBIDDEN"],
    ] as const) {
      const run = strata([...args]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(code);
    }
  });

  test("edge run --token drains the outbox; without a token it ends with exit 1 saying so", () => {
    const token = issue(["publish:cli/edge/>"], "edge-1").token;
    const data = join(work, "edge");
    ok(strata(["edge", "publish", "--data", data, "cli/edge/readings", "--json", '{"t": 21.5}']));
    const refused = strata(["edge", "run", "--data", data, "--once"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("UNAUTHENTICATED");
    ok(strata(["edge", "run", "--data", data, "--once", "--token", token]));
    const consumer = issue(["consume:cli/edge/>"], "reader").token;
    expect(JSON.parse(ok(strata(["consume", "cli/edge/readings", "--token", consumer])).trim()).fields).toEqual({ t: 21.5 });
  });
});
