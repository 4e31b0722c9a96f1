// Scopes of the gradient route and of the aggregator (docs/auth.md): a contribution needs publish
// on the gradient stream (401 without a token, 403 without the scope, checked before the body is
// read); the aggregator needs consume on the stream, and consume and publish on `<stream>.mean`.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { GradientAggregator } from "../../gateway/client.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { contribute, f32Tensor, readAll } from "./gradient-fixtures.ts";

const ADMIN = "gradient-scopes-admin-token-0123456789abcdef";
let live: LiveGateway;
const tokens: Record<string, string> = {};

async function issue(scopes: string[]): Promise<string> {
  const body = { scopes: scopes.map((s) => ({ action: s.slice(0, s.indexOf(":")), streams: s.slice(s.indexOf(":") + 1) })), ttl_s: 3600 };
  const response = await fetch(`${live.url}/v1/tokens`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

beforeAll(async () => {
  live = await liveGateway({ auth: { enabled: true, adminToken: ADMIN } });
  tokens.publish = await issue(["publish:train/>"]);
  tokens.consume = await issue(["consume:train/>"]);
  tokens.elsewhere = await issue(["publish:other/>"]);
  tokens.aggregator = await issue(["consume:train/grads", "consume:train/grads.mean", "publish:train/grads.mean"]);
});
afterAll(async () => {
  await live.close();
});

const body = { rank: 0, world_size: 2, tensors: { g: f32Tensor([2], [1, 2]) } };

test("a contribution needs publish on its stream: 401 without a token, 403 with consume only or another stream's scope", async () => {
  const none = await contribute(live.url, "train/grads", 0, body);
  expect(none.status).toBe(401);
  for (const token of [tokens.consume!, tokens.elsewhere!]) {
    const refused = await contribute(live.url, "train/grads", 0, body, token);
    expect(refused.status).toBe(403);
    expect(refused.body.error?.code).toBe("FORBIDDEN");
  }
  // A refused request fixed nothing: the stream does not exist yet.
  expect(await readAll(live.url, "train/grads", ADMIN)).toEqual([]);
  const accepted = await contribute(live.url, "train/grads", 0, body, tokens.publish!);
  expect(accepted.status).toBe(200);
});

test("the aggregator runs with consume on the stream and consume and publish on its .mean stream, and is refused without them", async () => {
  await contribute(live.url, "train/grads", 0, { ...body, rank: 1 }, tokens.publish!);
  const means: number[] = [];
  let published!: () => void;
  const done = new Promise<void>((resolve) => (published = resolve));
  const aggregator = await GradientAggregator.start({ gateway: live.url, token: tokens.aggregator!, stream: "train/grads", quorum: 1, deadlineMs: 60_000, waitMs: 500, onMean: (m) => (means.push(m.step), published()) });
  await done;
  await aggregator.stop();
  expect(means).toEqual([0]);
  const refused: unknown = await GradientAggregator.start({ gateway: live.url, token: tokens.publish!, stream: "train/grads", quorum: 1, deadlineMs: 60_000 }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(StrataError);
  expect((refused as StrataError).code).toBe("FORBIDDEN");
});
