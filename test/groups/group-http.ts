// Members of a consumer group driven over HTTP from the test process: each heartbeat's answer is
// what that member works on, and every answer is checked against the others' latest ones so a
// partition is never owned by two live members at once.
import { z } from "zod";
import { heartbeatResponseSchema, type TopicPartition } from "../../gateway/consumers/group-wire.ts";

export interface HttpAnswer<T> {
  readonly status: number;
  readonly body: T;
}

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** Any answer, unread (for calls whose status is all that matters). */
export const anyAnswer = z.unknown();

/** One call; the answer's body through `schema` (a mismatch fails the test). */
export async function call<S extends z.ZodType>(schema: S, method: string, url: string, body?: unknown): Promise<HttpAnswer<z.output<S>>> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: schema.parse(await response.json()) };
}

const heartbeatAnswer = z.union([heartbeatResponseSchema, errorSchema]);

export function key(p: TopicPartition): string {
  return `${p.stream}/${p.partition}`;
}

export interface MemberOptions {
  readonly streams: readonly string[];
  readonly instance?: string;
  readonly sessionTimeoutMs?: number;
}

export class GroupMembers {
  url: string;
  readonly group: string;
  readonly #options = new Map<string, MemberOptions>();
  readonly #epoch = new Map<string, number>();
  /** The assignment of each live member's latest answer. */
  readonly owned = new Map<string, Set<string>>();

  constructor(url: string, group: string) {
    this.url = url;
    this.group = group;
  }

  epochOf(member: string): number {
    return this.#epoch.get(member) ?? 0;
  }

  /** One heartbeat; the answer replaces the member's assignment (a 404/409 drops it and forgets its epoch). */
  async heartbeat(member: string, options?: MemberOptions): Promise<HttpAnswer<z.output<typeof heartbeatAnswer>>> {
    if (options !== undefined) this.#options.set(member, options);
    const o = this.#options.get(member);
    if (o === undefined) throw new Error(`member ${member} has no options`);
    const epoch = this.#epoch.get(member);
    const answer = await call(heartbeatAnswer, "POST", `${this.url}/v1/groups/${this.group}/heartbeat`, {
      member,
      streams: o.streams,
      ...(epoch === undefined ? {} : { member_epoch: epoch }),
      ...(o.instance === undefined ? {} : { instance: o.instance }),
      ...(o.sessionTimeoutMs === undefined ? {} : { session_timeout_ms: o.sessionTimeoutMs }),
    });
    if (answer.status === 200 && "member_epoch" in answer.body) {
      this.#epoch.set(member, answer.body.member_epoch);
      const mine = new Set(answer.body.assignment.map(key));
      for (const [other, keys] of this.owned) {
        if (other === member) continue;
        for (const k of mine) if (keys.has(k)) throw new Error(`${k} is owned by both ${other} and ${member}`);
      }
      this.owned.set(member, mine);
    } else {
      this.forget(member);
    }
    return answer;
  }

  /** The member is gone (killed, left, expired): it works on nothing any more. */
  forget(member: string): void {
    this.#epoch.delete(member);
    this.owned.delete(member);
  }

  /** Heartbeats every member in turn until a full round changes no assignment and every partition of `total` is owned. */
  async settle(members: readonly string[], total: number): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const before = JSON.stringify(members.map((m) => [...(this.owned.get(m) ?? [])].sort()));
      for (const m of members) {
        const answer = await this.heartbeat(m);
        if (answer.status !== 200) throw new Error(`heartbeat of ${m}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      const after = JSON.stringify(members.map((m) => [...(this.owned.get(m) ?? [])].sort()));
      const owned = members.reduce((n, m) => n + (this.owned.get(m)?.size ?? 0), 0);
      if (before === after && owned === total) return;
    }
    throw new Error(`group ${this.group} did not settle: ${JSON.stringify([...this.owned].map(([m, k]) => [m, [...k]]))}`);
  }
}
