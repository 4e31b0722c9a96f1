// The bearer token the console sends with every API call: kept in this tab's sessionStorage only
// (never localStorage, never a cookie), so closing the tab forgets it. None is needed when the
// gateway runs without --auth.

const KEY = "strata-console-token";

export function storedToken(): string | undefined {
  const token = sessionStorage.getItem(KEY);
  return token === null || token.length === 0 ? undefined : token;
}

export function storeToken(token: string): void {
  const trimmed = token.trim();
  if (trimmed.length === 0) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, trimmed);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
