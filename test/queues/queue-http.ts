// HTTP helpers of the queue tests: JSON calls against a gateway's queue routes.
export interface Claimed {
  receipt: string;
  stream: string;
  partition: number;
  offset: number;
  deliveries: number;
  headers: Record<string, string>;
  fields: Record<string, unknown>;
}

export interface Answer<T> {
  status: number;
  body: T;
}

export async function call<T>(url: string, method: string, body?: unknown): Promise<Answer<T>> {
  const response = await fetch(url, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

export async function createStream(base: string, name: string, partitions: number): Promise<void> {
  const r = await call(`${base}/v1/streams`, "POST", { name, partitions });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function publish(base: string, stream: string, records: readonly { fields: Record<string, unknown>; partition?: number }[]): Promise<void> {
  const r = await call(`${base}/v1/streams/${encodeURIComponent(stream)}/records?acks=durable`, "POST", { records });
  if (r.status !== 200) throw new Error(`publish ${stream}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function claim(base: string, group: string, body: Record<string, unknown>): Promise<Claimed[]> {
  const r = await call<{ records: Claimed[] }>(`${base}/v1/queues/${group}/claim`, "POST", body);
  if (r.status !== 200) throw new Error(`claim: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.records;
}

export async function ack(base: string, group: string, receipts: readonly string[]): Promise<{ acked: number; stale: string[] }> {
  const r = await call<{ acked: number; stale: string[] }>(`${base}/v1/queues/${group}/ack`, "POST", { receipts });
  if (r.status !== 200) throw new Error(`ack: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function nack(base: string, group: string, body: Record<string, unknown>): Promise<{ nacked: number; dead_lettered: number; stale: string[] }> {
  const r = await call<{ nacked: number; dead_lettered: number; stale: string[] }>(`${base}/v1/queues/${group}/nack`, "POST", body);
  if (r.status !== 200) throw new Error(`nack: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
