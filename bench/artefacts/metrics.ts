// Reads one counter (summed over its label sets) from a gateway's Prometheus /metrics.
export async function counter(gatewayUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line.trim());
    if (m && m[1] === name) total += Number(m[3]);
  }
  return total;
}
