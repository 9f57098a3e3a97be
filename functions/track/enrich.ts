// Enrichment at the edge: what the request says about an event that the client does not send
// (country, device class, bot or not), the event time kept within a window around receive time,
// and the play source normalised. Nothing here reads or keeps the IP address.
import { createIsbotFromList, list as isbotPatterns } from "isbot";
import { UAParser } from "ua-parser-js";
import { FIRST_STORABLE_MS, LAST_STORABLE_MS } from "../../types/events.ts";

// --- country -------------------------------------------------------------------------------------

/** The trusted edge header carrying the caller's country (Cloudflare's unless configured). */
export function countryHeaderName(): string {
  return (Deno.env.get("TRACK_COUNTRY_HEADER") || "cf-ipcountry").toLowerCase();
}

/** ISO 3166-1 alpha-2 from the edge header; Cloudflare's XX (unknown) and T1 (Tor) are no country. */
export function countryFrom(headers: Headers): string | null {
  const value = headers.get(countryHeaderName())?.trim().toUpperCase() ?? "";
  return /^[A-Z]{2}$/.test(value) && value !== "XX" && value !== "T1" ? value : null;
}

// --- device and bots -----------------------------------------------------------------------------

export type Device = "mobile" | "tablet" | "desktop" | "tv" | "console" | "other";
export type Agent = { device: Device | null; bot: boolean; userAgent: string | null };

// isbot counts every non-browser HTTP client as a bot. For an events API that is wrong: native
// apps (okhttp, CFNetwork), servers (posthog-node, Deno, Node's fetch) and operators (curl) send
// events legitimately. So its list is used without the patterns that match such clients' default
// User-Agents; crawlers, spiders, link previewers and headless browsers are still bots.
const HTTP_CLIENT_USER_AGENTS = [
  "posthog-node/5.70.0",
  "Deno/2.9.6",
  "node",
  "undici",
  "curl/8.5.0",
  "okhttp/4.12.0",
];
const isBotUserAgent = createIsbotFromList(
  isbotPatterns.filter((pattern) => !HTTP_CLIENT_USER_AGENTS.some((ua) => new RegExp(pattern, "i").test(ua))),
);

const DEVICE_BY_UA_TYPE: Record<string, Device> = {
  mobile: "mobile",
  wearable: "mobile",
  tablet: "tablet",
  smarttv: "tv",
  console: "console",
  embedded: "other",
  xr: "other",
};

/** Device class and bot verdict for a User-Agent; memoised, since a batch shares one or few. */
export function agentOf(userAgent: string | null, memo: Map<string, Agent>): Agent {
  const ua = userAgent?.trim() ?? "";
  if (!ua) return { device: null, bot: false, userAgent: null };
  const known = memo.get(ua);
  if (known) return known;
  const parsed = new UAParser(ua).getResult();
  // ua-parser-js names no device type for desktops: a recognised browser without one is a desktop.
  const device: Device = DEVICE_BY_UA_TYPE[parsed.device.type ?? ""] ??
    (parsed.browser.name ? "desktop" : "other");
  const agent = { device, bot: isBotUserAgent(ua), userAgent: ua };
  memo.set(ua, agent);
  return agent;
}

// --- time ----------------------------------------------------------------------------------------

/** How far ahead of receive time a client clock may be (TRACK_CLOCK_SKEW_SECONDS, default 300 s). */
export function maxFutureMs(): number {
  const seconds = Number(Deno.env.get("TRACK_CLOCK_SKEW_SECONDS") ?? 300);
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 300) * 1000;
}
/** How late an event may arrive and keep its own time: a week of offline queueing. */
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** The earliest instant a Date holds: no lower bound (the service role's events keep any time). */
export const EARLIEST = new Date(-8.64e15);

/**
 * The event time to store. With the batch's `sent_at` (the client clock when it sent), a skewed
 * device clock is corrected first, as PostHog does: time = receivedAt - (sentAt - timestamp).
 * Inside [oldest, receivedAt + skew] the time is kept; `oldest` is receivedAt - 7 days for clients,
 * and EARLIEST for the service role (history imports keep every event on its own day; the database
 * refuses one before its retention horizon). Outside it, or when the client sent none, the event
 * gets the receive time (null here: the database's now()) and an out-of-window client timestamp is
 * kept in properties.client_timestamp for audit.
 */
export function eventTime(
  clientTimestamp: string | undefined,
  receivedAt: Date,
  sentAt: Date | null,
  oldest: Date = new Date(receivedAt.getTime() - MAX_AGE_MS),
): { timestamp: string | null; outOfWindow: boolean; unstorable?: boolean } {
  if (!clientTimestamp) return { timestamp: null, outOfWindow: false };
  let ms = Date.parse(clientTimestamp);
  if (sentAt) ms += receivedAt.getTime() - sentAt.getTime();
  // Corrected by sent_at, a time may leave the years 0001-9999, which neither the database nor an
  // ISO string with a four-digit year can hold: only the service role's window reaches there.
  const unstorable = !(ms >= FIRST_STORABLE_MS && ms <= LAST_STORABLE_MS);
  const inWindow = !unstorable && ms >= oldest.getTime() && ms <= receivedAt.getTime() + maxFutureMs();
  return inWindow
    ? { timestamp: new Date(ms).toISOString(), outOfWindow: false }
    : { timestamp: null, outOfWindow: true, unstorable };
}

// --- source --------------------------------------------------------------------------------------

// Hosts (without www.) and labels of the places plays come from, by the name the dashboard shows.
const SOURCE_BY_HOST: Record<string, string> = {
  "t.co": "twitter",
  "x.com": "twitter",
  "twitter.com": "twitter",
  "mobile.twitter.com": "twitter",
  "mobile.x.com": "twitter",
  "instagram.com": "instagram",
  "l.instagram.com": "instagram",
  "facebook.com": "facebook",
  "m.facebook.com": "facebook",
  "l.facebook.com": "facebook",
  "lm.facebook.com": "facebook",
  "fb.com": "facebook",
  "tiktok.com": "tiktok",
  "vm.tiktok.com": "tiktok",
  "youtube.com": "youtube",
  "m.youtube.com": "youtube",
  "youtu.be": "youtube",
  "reddit.com": "reddit",
  "old.reddit.com": "reddit",
  "out.reddit.com": "reddit",
  "discord.com": "discord",
  "discord.gg": "discord",
  "whatsapp.com": "whatsapp",
  "wa.me": "whatsapp",
  "threads.net": "threads",
  "google.com": "google",
};
const SOURCE_BY_LABEL: Record<string, string> = {
  x: "twitter",
  ig: "instagram",
  fb: "facebook",
  yt: "youtube",
  $direct: "direct",
  none: "direct",
  "(direct)": "direct",
};

/**
 * The dashboard's source for a play: a label ("twitter"), a host ("l.instagram.com") or a referrer
 * URL ("https://t.co/abc?x=1") becomes one lower-case name; nothing becomes "direct". Only the
 * name is stored, never the referrer URL (its path and query can be personal).
 */
export function normaliseSource(raw: string | null | undefined): string {
  const value = (raw ?? "").trim().toLowerCase();
  if (!value) return "direct";
  if (SOURCE_BY_LABEL[value]) return SOURCE_BY_LABEL[value];
  let host: string | null = null;
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(value)) {
    try {
      host = new URL(value).hostname;
    } catch {
      host = null;
    }
  } else if (/^[a-z0-9-]+(\.[a-z0-9-]+)+([/:?#].*)?$/.test(value)) {
    host = value.split(/[/:?#]/)[0];
  }
  // A hostname is letters, digits, dots and hyphens (URL gives http(s) hosts in punycode). A URL of
  // another scheme (javascript://alert(1)) has whatever "host" it was written with: it is a label.
  if (host !== null && !/^[a-z0-9.-]*$/.test(host)) host = null;
  if (host !== null) {
    host = host.replace(/^www\./, "");
    if (!host) return "direct";
    return SOURCE_BY_HOST[host] ?? (/^google\.[a-z.]+$/.test(host) ? "google" : host.slice(0, 64));
  }
  // A label the client chose: kept, in a form safe to group by.
  const labelled = value.replace(/[^a-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 64);
  return labelled || "direct";
}
