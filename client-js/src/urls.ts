// Where to reconnect: the URL a 4003 MOVED close names (validated), or any configured instance.

/** The longest URL taken from a close reason (a close reason is at most 123 bytes anyway). */
const MAX_URL_LEN = 2048;

/**
 * The WebSocket URL to reconnect to after a close 4003 MOVED whose reason is `reason` (the base
 * URL of the instance that owns the match now, e.g. "http://10.0.0.7:8080"), keeping the path
 * of `configured` (e.g. "/ws"). Only http, https, ws and wss URLs without credentials are taken
 * (http→ws, https→wss); anything else (empty, relative, javascript:, user:pass@…) gives null:
 * reconnect to a configured URL instead.
 */
export function movedUrl(reason: string, configured: string): string | null {
  const text = reason.trim();
  if (!text || text.length > MAX_URL_LEN) return null;
  let u: URL;
  let base: URL;
  try {
    u = new URL(text);
    base = new URL(configured);
  } catch {
    return null;
  }
  const scheme = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[u.protocol];
  if (!scheme || !u.hostname || u.username || u.password) return null;
  const prefix = u.pathname.replace(/\/+$/, "");
  return `${scheme}//${u.host}${prefix}${base.pathname}${base.search}`;
}

/** Checks a configured WebSocket URL (ws: or wss:, absolute); returns it or throws. */
export function checkWsUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not an absolute URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`not a ws:// or wss:// URL: ${JSON.stringify(url)}`);
  return url;
}

/**
 * A URL of `urls` for the next attempt: a random one not in `avoid` (the instance just lost, and
 * those that failed since the last successful connect) when there is one, so a crowd that lost
 * the same instance spreads over the rest and nobody retries a dead one while a live one is
 * left; else a random one other than the first of `avoid`.
 */
export function pickUrl(urls: readonly string[], avoid: string | readonly string[], random: () => number = Math.random): string {
  const bad = typeof avoid === "string" ? [avoid] : avoid;
  let from = urls.filter((u) => !bad.includes(u));
  if (from.length === 0) from = urls.filter((u) => u !== bad[0]);
  if (from.length === 0) from = [...urls];
  return from[Math.min(from.length - 1, Math.floor(random() * from.length))]!;
}
