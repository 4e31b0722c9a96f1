// The web console (docs/console.md) in Debian's Chromium against a real gateway started with
// --auth: the assets are public and served with ETags and a self-only CSP; the page asks for a
// token, shows the streams and the group the test made, its live lag chart follows a publish,
// the record browser projects and filters, refusals (401, 403) say what to do, and every page
// loads without console errors. Screenshots of each page go to test-output/console/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { z } from "zod";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { type Chromium, launchChromium } from "../helpers/chromium.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";

const SCREENSHOTS = join(ROOT, "test-output", "console");
const GROUP = "console-g";
const QUEUE = "console-q";
const STREAM_A = "console/a"; // 1 partition: the group's
const STREAM_B = "console/b"; // 2 partitions: the queue's
const MODELS = "console/models";
/** Streams whose steady ~1 KiB records are followed by one ten times larger: a record_size flag each. */
const SIZES = ["console/sizes-1", "console/sizes-2"] as const;
const MIN_SAMPLES = 20;

let gw: GatewayProcess;
let browser: Chromium;
let dir: string;
let admin: string;
let reader: string;
let outsider: string;
let artefactId: string;

const tokenAnswer = z.object({ token: z.string() });

async function call(method: string, path: string, body?: unknown, token = admin): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response;
}

async function issue(scopes: { action: string; streams: string }[], subject: string): Promise<string> {
  return tokenAnswer.parse(await (await call("POST", "/v1/tokens", { scopes, ttl_s: 3600, subject })).json()).token;
}

async function publish(stream: string, values: number[], partition?: number): Promise<void> {
  await call("POST", `/v1/streams/${encodeURIComponent(stream)}/records`, { records: values.map((n) => ({ fields: { n, label: `record ${n}` }, ...(partition === undefined ? {} : { partition }) })) });
}

/** A page of the console with its console errors and uncaught exceptions collected. */
async function openConsole(hash: string, token?: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  await page.goto(`${gw.url}/console/${hash}`);
  if (token !== undefined) {
    await page.fill("#token", token);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#token-status:has-text('token set')");
    // The first load asked without a token (401s are logged): from a reload of this tab, which
    // keeps its sessionStorage, every request carries the token and any error counts.
    await page.reload();
    errors.length = 0;
  }
  return { page, errors };
}

/** Waits until no panel of the open page is loading any more. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const panels = Array.from(document.querySelectorAll("main [data-panel]"));
    return panels.length > 0 && panels.every((p) => p.getAttribute("data-state") !== "loading");
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  const shot = await page.screenshot({ fullPage: true });
  expect(shot.length).toBeGreaterThan(1000);
  writeFileSync(join(SCREENSHOTS, `${name}.png`), shot);
}

const lastValues = z.record(z.string(), z.number().nullable());

const anomalyPage = z.object({ anomalies: z.array(z.object({ kind: z.string(), stream: z.string().optional() })) });

/** Waits until `_strata/anomalies` holds a record_size flag of `stream` (flags are published off the publish path). */
async function waitForFlag(stream: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const page = anomalyPage.parse(await (await call("GET", "/v1/anomalies?limit=100")).json());
    if (page.anomalies.some((a) => a.kind === "record_size" && a.stream === stream)) return;
    if (Date.now() > deadline) throw new Error(`no record_size flag of ${stream} in _strata/anomalies`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  const build = spawnSync("npm", ["run", "-s", "build:console"], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build:console failed:\n${build.stdout}${build.stderr}`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  dir = tempDir("strata-console-");
  // Anomaly estimates flag after MIN_SAMPLES records instead of the default 50.
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ anomalies: { minSamples: MIN_SAMPLES } }));
  gw = await startGateway({ args: ["--auth", "--config", config] });
  admin = readFileSync(join(gw.dataDir, "admin.token"), "utf8").trim();
  reader = await issue([{ action: "consume", streams: ">" }], "console-reader");
  outsider = await issue([{ action: "consume", streams: "elsewhere/>" }], "console-outsider");

  await call("POST", "/v1/streams", { name: STREAM_A, partitions: 1 });
  await call("POST", "/v1/streams", { name: STREAM_B, partitions: 2 });
  await publish(STREAM_A, [0, 1, 2, 3, 4, 5]);
  await publish(STREAM_B, [10, 11, 12], 0);
  await publish(STREAM_B, [13, 14], 1);
  await call("POST", `/v1/groups/${GROUP}/offsets`, { stream: STREAM_A, partition: 0, offset: 2 });
  // A queue whose first delivery fails for good: one dead letter on console/b.dlq.
  await call("PUT", `/v1/queues/${QUEUE}`, { max_deliveries: 1 });
  const claimed = z.object({ records: z.array(z.object({ receipt: z.string() })) }).parse(await (await call("POST", `/v1/queues/${QUEUE}/claim`, { streams: [STREAM_B], max_records: 1 })).json());
  expect(claimed.records).toHaveLength(1);
  await call("POST", `/v1/queues/${QUEUE}/nack`, { receipts: [claimed.records[0]!.receipt], error: "model rejected the sample" });
  await call("POST", "/v1/datasets", { name: "console-ds", stream: STREAM_A, filter: "fields.n >= 1" });
  const file = join(dir, "weights.bin");
  writeFileSync(file, new Uint8Array(200_000).map((_, i) => (i * 31) % 251));
  artefactId = (await pushArtefact({ gateway: gw.url, token: admin, file, stream: MODELS })).artefact;
  await call("POST", "/v1/devices/edge-1/heartbeat", { labels: { site: "lab" }, pins: { [MODELS]: artefactId }, outbox_records: 7, transport: "http", version: "0.1.0" });
  await call("POST", "/v1/rollouts", { stream: MODELS, artefact: artefactId, percent: 50 });
  // Flags in order: sizes-1's first, then sizes-2's (the page lists the newest first).
  for (const stream of SIZES) {
    await call("POST", "/v1/streams", { name: stream, partitions: 1 });
    for (let i = 0; i < MIN_SAMPLES + 5; i++) await call("POST", `/v1/streams/${encodeURIComponent(stream)}/records`, { records: [{ fields: { blob: "x".repeat(1000 + (i % 7) * 4) } }] });
    await call("POST", `/v1/streams/${encodeURIComponent(stream)}/records`, { records: [{ fields: { blob: "x".repeat(10_000) } }] });
    await waitForFlag(stream);
  }
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (gw) {
    await gw.stop();
    removeDir(gw.dataDir);
  }
  if (dir) removeDir(dir);
});

describe("console assets", () => {
  test("are public, typed, with a strong ETag, a self-only CSP, and nothing from elsewhere", async () => {
    const redirect = await fetch(`${gw.url}/console`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(new URL(redirect.headers.get("location") ?? "", `${gw.url}/console`).pathname).toBe("/console/");

    const page = await fetch(`${gw.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe");
    const html = await page.text();
    expect(html).toContain('src="console.js"');
    expect(/(src|href)="(https?:)?\/\//.test(html)).toBe(false);

    for (const [name, type] of [
      ["console.js", "text/javascript; charset=utf-8"],
      ["console.css", "text/css; charset=utf-8"],
    ] as const) {
      const first = await fetch(`${gw.url}/console/${name}`);
      expect(first.status).toBe(200);
      expect(first.headers.get("content-type")).toBe(type);
      const etag = first.headers.get("etag") ?? "";
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect((await first.text()).length).toBeGreaterThan(1000);
      const again = await fetch(`${gw.url}/console/${name}`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe("");
    }
    const css = await (await fetch(`${gw.url}/console/console.css`)).text();
    expect(css).toContain(".uplot"); // uPlot's stylesheet is bundled

    expect((await fetch(`${gw.url}/console/a/b.js`)).status).toBe(404);
    const unknown = await fetch(`${gw.url}/console/nothing.js`);
    expect(unknown.status).toBe(404);
    expect(z.object({ error: z.object({ code: z.string() }) }).parse(await unknown.json()).error.code).toBe("NOT_FOUND");
  });
});

describe("console in Chromium", () => {
  test("without a token the API's 401 is shown with what to do", async () => {
    const { page } = await openConsole("#/streams");
    try {
      const error = await page.waitForSelector("[data-panel=streams][data-state=error] [data-error]");
      const text = (await error.textContent()) ?? "";
      expect(text).toContain("401 UNAUTHENTICATED");
      expect(text).toContain("enter a token");
    } finally {
      await page.close();
    }
  }, 60_000);

  test("a gateway without --auth needs no token", async () => {
    const open = await startGateway();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    try {
      const created = await fetch(`${open.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "open/stream" }) });
      expect(created.status).toBe(201);
      await page.goto(`${open.url}/console/#/streams`);
      await page.waitForSelector("[data-panel=streams][data-state=ready] [data-table=streams] a:has-text('open/stream')");
      expect(await page.textContent("#token-status")).toBe("no token");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await open.stop();
      removeDir(open.dataDir);
    }
  }, 60_000);

  test("a token without the stream's scope gets the 403 explained", async () => {
    const { page } = await openConsole(`#/records?stream=${encodeURIComponent(STREAM_A)}&partition=0&offset=0`, outsider);
    try {
      const error = await page.waitForSelector("[data-panel=records][data-state=error] [data-error]");
      const text = (await error.textContent()) ?? "";
      expect(text).toContain("403 FORBIDDEN");
      expect(text).toContain("scopes");
      // The token was kept for that tab only: a new tab of the same browser has none.
      const streams = await openConsole("#/streams");
      try {
        await streams.page.waitForSelector("[data-panel=streams][data-state=error]");
      } finally {
        await streams.page.close();
      }
    } finally {
      await page.close();
    }
  }, 60_000);

  test("streams: both streams with partitions and end offsets; a publish shows in records/s and the end offset", async () => {
    const { page, errors } = await openConsole("#/streams", reader);
    try {
      await page.waitForSelector("[data-panel=streams][data-state=ready] [data-table=streams]");
      const rows = await page.$$eval("[data-table=streams] tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
      const byName = new Map(rows.map((cells) => [cells[0], cells]));
      expect(byName.get(STREAM_A)?.slice(1, 3)).toEqual(["1", "6"]);
      expect(byName.get(STREAM_B)?.slice(1, 3)).toEqual(["2", "5"]);
      // The records/s chart gets its first point from the second poll; a publish shows as a rate
      // above zero for the poll interval that saw it, and in the table's end offset.
      await page.waitForFunction(() => Number(document.querySelector("[data-chart=stream-rates]")?.getAttribute("data-points")) >= 1);
      await publish(STREAM_B, [15, 16, 17], 0);
      await page.waitForFunction(
        (stream) => Number(JSON.parse(document.querySelector("[data-chart=stream-rates]")?.getAttribute("data-last") ?? "{}")[stream]) > 0,
        STREAM_B,
        { polling: 50, timeout: 15_000 },
      );
      await page.waitForSelector(`[data-table=streams] [data-end="8"]`);
      await screenshot(page, "streams");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  test("groups: every group's total lag, one group's lag per partition, and its live chart follows a publish", async () => {
    const { page, errors } = await openConsole("#/groups", reader);
    try {
      await page.waitForSelector(`[data-panel=groups][data-state=ready] [data-table=groups] a:has-text('${GROUP}')`);
      const overview = await page.$$eval("[data-table=groups] tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
      expect(overview).toEqual([[GROUP, "0", "0", STREAM_A, "4"]]);
      expect(lastValues.parse(JSON.parse((await page.getAttribute("[data-chart=groups-lag]", "data-last")) ?? "{}"))).toEqual({ [GROUP]: 4 });
      await screenshot(page, "groups-overview");
      await page.click(`[data-table=groups] a:has-text('${GROUP}')`);
      await page.waitForSelector("[data-panel=group][data-state=ready] [data-table=lag]");
      const lagRow = await page.$$eval("[data-table=lag] tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
      expect(lagRow).toEqual([[STREAM_A, "0", "2", "6", "4"]]);
      const chart = "[data-chart=group-lag]";
      const read = async () => {
        const points = Number(await page.getAttribute(chart, "data-points"));
        const last = lastValues.parse(JSON.parse((await page.getAttribute(chart, "data-last")) ?? "{}"));
        return { points, lag: last[`${STREAM_A}/0`] };
      };
      await page.waitForFunction((selector) => Number(document.querySelector(selector)?.getAttribute("data-points")) >= 1, chart);
      const before = await read();
      expect(before.lag).toBe(4);
      await publish(STREAM_A, [6, 7, 8]);
      await page.waitForFunction((selector) => JSON.parse(document.querySelector(selector)?.getAttribute("data-last") ?? "{}")["console/a/0"] === 7, chart, { timeout: 15_000 });
      const after = await read();
      expect(after.points).toBeGreaterThan(before.points);
      expect(await page.textContent("[data-total-lag]")).toBe("7");
      // The chart follows the window's width.
      await page.setViewportSize({ width: 800, height: 700 });
      await page.waitForFunction((selector) => (document.querySelector(`${selector} canvas`)?.getBoundingClientRect().width ?? 1e9) < 800, chart);
      await screenshot(page, "groups");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  test("record browser: projection with fields= and a CEL filter=, and paging", async () => {
    const q = new URLSearchParams({ stream: STREAM_A, partition: "0", offset: "0", fields: "n", filter: "fields.n >= 3 && fields.n < 6" });
    const { page, errors } = await openConsole(`#/records?${q}`, reader);
    try {
      await page.waitForSelector("[data-panel=records][data-state=ready] [data-table=records]");
      const rows = await page.$$eval("[data-table=records] tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
      expect(rows.map((cells) => [cells[0], cells[4]])).toEqual([
        ["3", '{"n":3}'],
        ["4", '{"n":4}'],
        ["5", '{"n":5}'],
      ]);
      // The form drives the same route: a new offset from the form.
      await page.fill("form[data-form=records] input[name=offset]", "4");
      await page.click("form[data-form=records] button[type=submit]");
      await page.waitForFunction(() => document.querySelector("[data-table=records] tbody tr td")?.textContent === "4");
      await screenshot(page, "records");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  test("queues: counts and the dead letter with its error", async () => {
    const { page, errors } = await openConsole(`#/queues?group=${QUEUE}`, reader);
    try {
      await page.waitForSelector(`[data-table=queues] a:has-text('${QUEUE}')`);
      await page.waitForSelector("[data-panel=queue][data-state=ready] [data-table=queue-partitions]");
      const dead = await page.waitForSelector("[data-panel=dead-letters][data-state=ready] [data-table=dead-letters]");
      expect(await dead.textContent()).toContain("model rejected the sample");
      expect(await page.textContent("[data-panel=queue] [data-summary]")).toContain("dead-lettered 1");
      await screenshot(page, "queues");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  test("datasets, versions, devices and anomalies load without console errors", async () => {
    const pages: { hash: string; name: string; expectText: [string, string][] }[] = [
      { hash: "#/datasets?dataset=console-ds", name: "datasets", expectText: [["[data-table=datasets]", "console-ds"], ["[data-table=dataset-versions]", "fields.n >= 1"]] },
      { hash: `#/versions?stream=${encodeURIComponent(MODELS)}`, name: "versions", expectText: [["[data-table=versions]", "195 KiB"], ["[data-table=versions]", artefactId.slice(0, 16)]] },
      { hash: "#/devices", name: "devices", expectText: [["[data-table=devices]", "edge-1"], ["[data-table=devices]", "site=lab"], ["[data-table=devices]", `${MODELS} → ${artefactId.slice(0, 16)}`], ["[data-table=rollouts]", "50 %"]] },
      { hash: "#/anomalies", name: "anomalies", expectText: [["[data-table=anomalies]", "record_size"]] },
    ];
    for (const { hash, name, expectText } of pages) {
      const { page, errors } = await openConsole(hash, reader);
      try {
        await settled(page);
        expect(await page.$$eval("main [data-state=error]", (els) => els.map((e) => e.textContent))).toEqual([]);
        for (const [selector, text] of expectText) expect(await page.textContent(selector)).toContain(text);
        await screenshot(page, name);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    }
  }, 120_000);

  test("anomalies: the flags, newest first, with kind, stream and reason", async () => {
    const { page, errors } = await openConsole("#/anomalies", reader);
    try {
      await page.waitForSelector("[data-panel=anomalies][data-state=ready] [data-table=anomalies]");
      const rows = await page.$$eval("[data-table=anomalies] tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")));
      const sizeRows = rows.filter((cells) => cells[1] === "record_size");
      expect(sizeRows.map((cells) => cells[2])).toEqual([SIZES[1], SIZES[0]]);
      for (const cells of sizeRows) expect(cells[6]?.length ?? 0).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
