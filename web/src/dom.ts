// Small DOM helpers: elements are built with createElement and textContent only (no innerHTML with
// data, no inline styles or handlers), which keeps the page safe under the strict CSP.

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

// --- formatting ----------------------------------------------------------------------------------
const LOCALE = "en-US";
const intFmt = new Intl.NumberFormat(LOCALE);
const compactFmt = new Intl.NumberFormat(LOCALE, { notation: "compact", maximumFractionDigits: 1 });

export const fmtInt = (n: number): string => intFmt.format(n);
export const fmtCompact = (n: number): string => compactFmt.format(n);
export const fmtPct = (n: number): string => `${n}%`;

/** Seconds as m:ss (or h:mm:ss). */
export function fmtDuration(seconds: number): string {
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** Growth in % against the previous period; null (no plays before) reads "new". */
export function fmtGrowth(g: number | null): { text: string; tone: "up" | "down" | "flat" | "new" } {
  if (g === null) return { text: "new", tone: "new" };
  if (g > 0) return { text: `▲ +${fmtInt(g)}%`, tone: "up" };
  if (g < 0) return { text: `▼ −${fmtInt(-g)}%`, tone: "down" };
  return { text: "0%", tone: "flat" };
}

const shortDate = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric", timeZone: "UTC" });
const longDate = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
/** A calendar date YYYY-MM-DD as "Jan 5" (the date itself, in no time zone). */
export const fmtDay = (d: string): string => shortDate.format(new Date(`${d}T00:00:00Z`));
export const fmtDayLong = (d: string): string => longDate.format(new Date(`${d}T00:00:00Z`));
export const fmtHour = (h: number): string => `${String(h).padStart(2, "0")}:00`;

let regionNames: Intl.DisplayNames | null = null;
/** "US" -> "United States"; anything that is not a region code is shown as it is. */
export function countryName(code: string): string {
  try {
    regionNames ??= new Intl.DisplayNames([LOCALE], { type: "region" });
    if (/^[A-Z]{2}$/.test(code)) return regionNames.of(code) ?? code;
  } catch { /* fall through */ }
  return code === "unknown" || code === "" ? "Unknown" : code;
}

export const capitalize = (s: string): string => (s ? s[0].toUpperCase() + s.slice(1) : s);

const SOURCE_NAMES: Record<string, string> = {
  tiktok: "TikTok", youtube: "YouTube", twitter: "Twitter / X", x: "X", facebook: "Facebook",
  instagram: "Instagram", direct: "Direct", search: "Search", embed: "Embed", unknown: "Unknown",
};
/** A traffic source as people write it ("tiktok" -> "TikTok"). */
export const sourceName = (s: string): string => SOURCE_NAMES[s.toLowerCase()] ?? capitalize(s);
