// The browser client (@strata-gw/strata/edge/browser) in Debian's Chromium: the example page, served from
// its own origin, publishes a record to a real gateway started with --cors-origin and pulls an
// artefact pushed with edge/artefacts, verifying every chunk on the WASM kernel; a chunk corrupted
// on the wire makes the pull fail with HASH_MISMATCH.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { type Chromium, launchChromium } from "../helpers/chromium.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { startCorruptingProxy } from "./corrupting-proxy.ts";
import { startStaticServer } from "./static-server.ts";

const MODEL_STREAM = "models/browser";
const EVENTS_STREAM = "browser/events";

let dir: string;
let site: ReturnType<typeof startStaticServer>;
let gateway: GatewayProcess;
let proxy: ReturnType<typeof startCorruptingProxy>;
let browser: Chromium;
let fileHash: string;
let fileSize: number;

/** Deterministic bytes (xorshift32), several chunks long. */
function artefactBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 0x2545f491;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function pageUrl(gatewayUrl: string, message = "hello from chromium"): string {
  const q = new URLSearchParams({ gateway: gatewayUrl, stream: EVENTS_STREAM, source: MODEL_STREAM, message });
  return `${site.url}/examples/browser/index.html?${q}`;
}

/** Clicks a button and waits for its output to settle; answers [state, text]. */
async function clickAndWait(page: Page, button: string, output: string): Promise<[string, string]> {
  await page.click(button);
  const settled = await page.waitForSelector(`${output}[data-state=done], ${output}[data-state=error]`, { timeout: 60_000 });
  return [(await settled.getAttribute("data-state")) ?? "", (await settled.textContent()) ?? ""];
}

beforeAll(async () => {
  const build = spawnSync("npm", ["run", "-s", "build:browser"], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build:browser failed:\n${build.stdout}${build.stderr}`);
  dir = tempDir("strata-browser-");
  site = startStaticServer();
  gateway = await startGateway({ args: ["--cors-origin", site.url] });
  proxy = startCorruptingProxy(gateway.url);
  const bytes = artefactBytes(3 * 1024 * 1024 + 12_345);
  const file = join(dir, "model.bin");
  writeFileSync(file, bytes);
  fileHash = blake3Hex(readFileSync(file));
  fileSize = bytes.length;
  const pushed = await pushArtefact({ gateway: gateway.url, file, stream: MODEL_STREAM });
  expect(pushed.chunksTotal).toBeGreaterThan(4);
  const created = await fetch(`${gateway.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: EVENTS_STREAM }) });
  expect(created.status).toBe(201);
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.stop();
  await gateway?.stop();
  await site?.stop();
  if (dir) removeDir(dir);
  if (gateway) removeDir(gateway.dataDir);
});

describe("browser client in Chromium", () => {
  test("the gateway grants CORS to the configured origin only", async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/v1/chunks/get`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect((await preflight(site.url)).headers.get("access-control-allow-origin")).toBe(site.url);
    expect((await preflight("http://elsewhere.example")).headers.get("access-control-allow-origin")).toBeNull();
  });

  test("the example page publishes a record and pulls an artefact, every chunk verified", async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(pageUrl(gateway.url, "hello from chromium"));
      const [publishState, publishText] = await clickAndWait(page, "#publish", "#publish-status");
      expect(publishText).toContain("published to");
      expect(publishState).toBe("done");

      const read = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(EVENTS_STREAM)}/partitions/0/records?offset=0`);
      const records = ((await read.json()) as { records: { key: unknown; fields: Record<string, unknown> }[] }).records;
      expect(records).toHaveLength(1);
      expect(records[0]!.fields.message).toBe("hello from chromium");
      expect(records[0]!.fields.bytes).toEqual({ $base64: Buffer.from("hello from chromium").toString("base64") });

      const [pullState, pullText] = await clickAndWait(page, "#pull", "#pull-status");
      expect(pullText).toContain("pulled artefact");
      expect(pullState).toBe("done");
      const pulled = await page.evaluate(() => (window as unknown as { strataExample: { pulled: { blake3: string; size: number; chunks: number } | null } }).strataExample.pulled);
      expect(pulled?.size).toBe(fileSize);
      expect(pulled?.blake3).toBe(fileHash);
      const shot = await page.screenshot({ fullPage: true });
      writeFileSync(join(tmpdir(), "strata-browser-example.png"), shot);
      expect(shot.length).toBeGreaterThan(1000);
    } finally {
      await page.close();
    }
  }, 120_000);

  test("the bundle publishes MessagePack with an idempotent producer and pulls by artefact id", async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(pageUrl(gateway.url));
      const id = (await (await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(MODEL_STREAM)}/partitions/0/records?offset=0`)).json()) as {
        records: { fields: { artefact: { $artefact: { manifest: string } } } }[];
      };
      const manifest = id.records[0]!.fields.artefact.$artefact.manifest;
      const result = await page.evaluate(
        async ({ gatewayUrl, stream, artefact }) => {
          const lib = (await import("/dist/browser/strata-edge.js" as string)) as typeof import("../../edge/browser/index.ts");
          const records = [{ key: "k", fields: { raw: new Uint8Array([1, 2, 3]), n: 7 } }];
          const producer = { id: 4242, epoch: 0, seq: 0 };
          const first = await lib.publish(gatewayUrl, stream, records, { format: "msgpack", producer });
          const retried = await lib.publish(gatewayUrl, stream, records, { format: "msgpack", producer });
          const pulled = await lib.pullArtefact(gatewayUrl, artefact);
          return { first, retried, size: pulled.bytes.length, hash: lib.blake3Hex(pulled.bytes), record: pulled.record };
        },
        { gatewayUrl: gateway.url, stream: EVENTS_STREAM, artefact: manifest },
      );
      expect(result.retried).toEqual(result.first);
      expect(result.size).toBe(fileSize);
      expect(result.hash).toBe(fileHash);
      expect(result.record).toBeNull();
      const { partition, offset } = result.first[0]!;
      const read = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(EVENTS_STREAM)}/partitions/${partition}/records?offset=${offset}`);
      const records = ((await read.json()) as { records: { offset: number; key: unknown; fields: Record<string, unknown> }[] }).records;
      expect(records.filter((r) => r.fields.n === 7)).toHaveLength(1);
      expect(records[0]!.fields.raw).toEqual({ $base64: "AQID" });
      expect(records[0]!.key).toEqual({ $base64: Buffer.from("k").toString("base64") });
    } finally {
      await page.close();
    }
  }, 120_000);

  test("a chunk corrupted on the wire fails the pull with HASH_MISMATCH", async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(pageUrl(proxy.url));
      const [state, text] = await clickAndWait(page, "#pull", "#pull-status");
      expect(text).toContain("HASH_MISMATCH");
      expect(text).toContain("do not hash to it");
      expect(state).toBe("error");
      expect(proxy.corrupted()).toBeGreaterThan(0);
      expect(await page.evaluate(() => (window as unknown as { strataExample: { pulled: unknown } }).strataExample.pulled)).toBeNull();
    } finally {
      await page.close();
    }
  }, 120_000);
});
