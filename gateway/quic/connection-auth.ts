// Who a QUIC connection acts as. The hello's token is verified once; afterwards a request
// re-verifies it when the last check is older than RECHECK_MS (one verification shared by the
// requests that find it stale), so a token revoked or expired while the connection is open
// stops working within RECHECK_MS plus the token service's revocation refresh (1 s), without
// paying a signature check (about 0.1 ms) on every request.
import { invariant, StrataError } from "../../core/errors.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import { OPEN_PRINCIPAL, type Principal } from "../auth/principal.ts";

/** How stale a connection's verification may be when a request relies on it. */
export const RECHECK_MS = 500;

/** What verifies a bearer token (the gateway's TokenService); UNAUTHENTICATED when it does not. */
export interface TokenVerifier {
  verify(token: string | undefined): Promise<Principal>;
}

/** How a connection is admitted: by nothing, by the shared secret of `token`, or by a signed token. */
export type HelloGate =
  | { readonly kind: "open" }
  | { readonly kind: "shared-token"; readonly token: string }
  | { readonly kind: "signed-token"; readonly verifier: TokenVerifier };

type AuthState =
  | { kind: "unverified" }
  | { kind: "open" }
  | { kind: "verified"; token: string; principal: Principal; checkedAt: number };

export class ConnectionAuth {
  #state: AuthState = { kind: "unverified" };
  readonly #recheck = new SingleFlight<"token", Principal>();

  constructor(private readonly gate: HelloGate) {}

  /** Admits the hello's token or throws (UNAUTHENTICATED; BAD_REQUEST for a wrong shared token). */
  async admit(token: string | undefined): Promise<void> {
    invariant(this.#state.kind === "unverified", `a connection's hello is admitted once, not in state ${this.#state.kind}`);
    const gate = this.gate;
    switch (gate.kind) {
      case "open":
        this.#state = { kind: "open" };
        return;
      case "shared-token":
        // The library's shared secret (no identity, no scopes): kept as it was before tokens.
        if (token !== gate.token) throw new StrataError("BAD_REQUEST", "hello.token is missing or wrong");
        this.#state = { kind: "open" };
        return;
      case "signed-token": {
        const principal = await gate.verifier.verify(token);
        invariant(token !== undefined, "a verified hello carries its token");
        this.#state = { kind: "verified", token, principal, checkedAt: Date.now() };
        return;
      }
    }
  }

  /** The hello's token as an Authorization header (cluster mode sends it on with a forwarded publish), if it had one. */
  get authorization(): string | undefined {
    return this.#state.kind === "verified" ? `Bearer ${this.#state.token}` : undefined;
  }

  /** The principal a request acts as, re-verified when the last check is older than RECHECK_MS. */
  async principal(): Promise<Principal> {
    const state = this.#state;
    switch (state.kind) {
      case "unverified":
        throw new StrataError("INTERNAL", "invariant violated: a request ran before its connection's hello was admitted");
      case "open":
        return OPEN_PRINCIPAL;
      case "verified": {
        if (Date.now() - state.checkedAt < RECHECK_MS) return state.principal;
        const gate = this.gate;
        invariant(gate.kind === "signed-token", "a verified connection has a token verifier");
        return this.#recheck.run("token", async () => {
          const principal = await gate.verifier.verify(state.token);
          this.#state = { kind: "verified", token: state.token, principal, checkedAt: Date.now() };
          return principal;
        });
      }
    }
  }
}
