// Bad answers from a gateway: a tampering proxy (a real HTTP server in front of a real gateway)
// flips bytes of chunks and manifests or cuts chunk streams short. The client must fail with a
// clear error and leave no OUT, or, for a stream cut once, ask again for the rest.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { encode } from "@msgpack/msgpack";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { fileHash, writePlainFile } from "./client-fixtures.ts";

type Mode = "pass" | "flip-chunk" | "cut-once" | "cut-always" | "flip-manifest" | "wrong-length" | "hide-missing";

let live: LiveGateway;
let proxy: ReturnType<typeof Bun.serve>;
let mode: Mode = "pass";
let cuts = 0;
let dir: string;
let artefact: string;

beforeAll(async () => {
  live = await liveGateway();
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (mode === "hide-missing" && url.pathname === "/v1/chunks/missing") {
        // Claims every chunk is stored: the client learns otherwise from the manifest PUT's 409.
        return new Response(encode({ missing: [] }), { headers: { "content-type": "application/msgpack" } });
      }
      const upstream = await fetch(`${live.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        ...(request.method === "GET" || request.method === "HEAD" ? {} : { body: await request.arrayBuffer() }),
      });
      const body = new Uint8Array(await upstream.arrayBuffer());
      const headers = new Headers(upstream.headers);
      headers.delete("content-length");
      if (url.pathname === "/v1/chunks/get" && upstream.ok) {
        if (mode === "flip-chunk") body[body.length - 10] = body[body.length - 10]! ^ 0x01;
        if (mode === "wrong-length") body[32] = body[32]! ^ 0x01;
        if (mode === "cut-always" || (mode === "cut-once" && cuts === 0)) {
          cuts++;
          return new Response(body.subarray(0, Math.floor(body.length / 2)), { status: upstream.status, headers });
        }
      }
      if (url.pathname.startsWith("/v1/manifests/") && mode === "flip-manifest" && upstream.ok) body[body.length - 1] = body[body.length - 1]! ^ 0x01;
      return new Response(body, { status: upstream.status, headers });
    },
  });
  dir = tempDir("strata-hostile-");
  writePlainFile(join(dir, "f.bin"), 1024 * 1024 + 99, 5);
  artefact = (await pushArtefact({ gateway: live.url, file: join(dir, "f.bin"), stream: "hostile/f" })).artefact;
});

afterAll(async () => {
  await proxy?.stop(true);
  await live?.close();
  if (dir) removeDir(dir);
});

async function pullThroughProxy(name: string): Promise<unknown> {
  try {
    await pullArtefact({ gateway: `http://127.0.0.1:${proxy.port}`, source: "hostile/f", out: join(dir, name), cacheDir: join(dir, `cache-${name}`), limits: { attempts: 2 } });
    return null;
  } catch (e) {
    return e;
  }
}

function leftovers(): string[] {
  return readdirSync(dir).filter((n) => n.includes(".strata-tmp-"));
}

describe("a gateway that answers wrongly", () => {
  test("a chunk whose bytes do not match its hash: HASH_MISMATCH, no OUT", async () => {
    mode = "flip-chunk";
    const e = (await pullThroughProxy("flip.out")) as { code?: string; message?: string };
    expect(e?.code).toBe("HASH_MISMATCH");
    expect(e.message).toContain("do not hash to it");
    expect(existsSync(join(dir, "flip.out"))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  test("a frame with the wrong length: CORRUPT_DATA", async () => {
    mode = "wrong-length";
    const e = (await pullThroughProxy("length.out")) as { code?: string };
    expect(e?.code).toBe("CORRUPT_DATA");
    expect(existsSync(join(dir, "length.out"))).toBe(false);
  });

  test("a manifest whose bytes do not hash to its id: HASH_MISMATCH", async () => {
    mode = "flip-manifest";
    const e = (await pullThroughProxy("manifest.out")) as { code?: string; message?: string };
    expect(e?.code).toBe("HASH_MISMATCH");
    expect(e.message).toContain(artefact);
  });

  test("a chunk stream cut short once: the rest is asked for again and the pull completes", async () => {
    mode = "cut-once";
    cuts = 0;
    expect(await pullThroughProxy("cut-once.out")).toBeNull();
    expect(cuts).toBe(1);
    expect(fileHash(join(dir, "cut-once.out"))).toBe(fileHash(join(dir, "f.bin")));
  });

  test("a chunk stream always cut short: a clear error after the attempts", async () => {
    mode = "cut-always";
    const e = (await pullThroughProxy("cut-always.out")) as { code?: string; message?: string };
    expect(e?.code).toBe("UNAVAILABLE");
    expect(e.message).toMatch(/chunk stream ended after \d+ of \d+ chunks/);
    expect(existsSync(join(dir, "cut-always.out"))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  test("a gateway that wrongly says nothing is missing: the manifest PUT's 409 MISSING_CHUNKS makes the client send them", async () => {
    mode = "hide-missing";
    const file = join(dir, "g.bin");
    writePlainFile(file, 700 * 1024 + 3, 77);
    const pushed = await pushArtefact({ gateway: `http://127.0.0.1:${proxy.port}`, file, stream: "hostile/g" });
    expect(pushed.bytesTransferred).toBe(700 * 1024 + 3);
    mode = "pass";
    await pullArtefact({ gateway: live.url, source: "hostile/g", out: join(dir, "g.out"), cacheDir: join(dir, "cache-g") });
    expect(fileHash(join(dir, "g.out"))).toBe(fileHash(file));
  });
});
