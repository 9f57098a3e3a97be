// The page's only ways out: supabase-js for auth (and the creator's mashups list under RLS), and
// the public analytics Edge Function over fetch with the caller's access token. Every response is
// checked against the zod schemas in types/analytics.ts, the API's contract.
import "./zod-jitless.ts"; // first: before the schemas below are created
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { z } from "zod";
import {
  comparedDashboardResponse,
  type ComparedDashboardResponse,
  type DashboardResponse,
  mashupAnalyticsResponse,
  type MashupAnalyticsResponse,
  realtimeResponse,
  type RealtimeResponse,
} from "../../types/analytics.ts";

/** The project's API URL: config.json's supabaseUrl, else the origin the page is served from (the local stack). */
export let BASE_URL = globalThis.location?.origin ?? "http://127.0.0.1:54321";
const PASTED_TOKEN_KEY = "mashup-analytics.pasted-token";

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

let anonKey = "";

/** The page's runtime settings (web/dist/config.json, written by web/build.mjs, never in the bundle). */
export type PageConfig = {
  supabaseUrl?: string;
  publishableKey?: string;
  /** Only on the local demo stack: the demo accounts the sign-in form may offer. */
  demo?: { users: string[]; password: string };
};
let pageConfig: PageConfig = {};
export const config = (): PageConfig => pageConfig;
let authClient: SupabaseClient | null = null;
let tokenClient: SupabaseClient | null = null;
let pastedToken: string | null = null;

/** Reads config.json (the project's URL and publishable key) and creates the auth client. */
export async function initApi(): Promise<void> {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json is missing (${res.status}): build the page with web/build.mjs`);
  const cfg = await res.json() as PageConfig & { anonKey?: string };
  const key = cfg.publishableKey ?? cfg.anonKey;
  if (!key) throw new Error("config.json has no publishableKey");
  pageConfig = cfg;
  anonKey = key;
  if (cfg.supabaseUrl) BASE_URL = cfg.supabaseUrl.replace(/\/+$/, "");
  authClient = createClient(BASE_URL, anonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
  });
  pastedToken = sessionStorage.getItem(PASTED_TOKEN_KEY);
}

export function auth(): SupabaseClient {
  if (!authClient) throw new Error("initApi() first");
  return authClient;
}

/** The client for table reads: the signed-in session's, or one carrying the pasted token. */
function db(): SupabaseClient {
  if (pastedToken) {
    const token = pastedToken;
    tokenClient ??= createClient(BASE_URL, anonKey, {
      accessToken: () => Promise.resolve(token),
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
    return tokenClient;
  }
  return auth();
}

export type Identity = { email: string; userId: string; via: "password" | "token"; role: string };

function decodeJwt(token: string): Record<string, unknown> | null {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

/** Who is signed in (a pasted token wins over a stored session), or null. */
export async function currentIdentity(): Promise<Identity | null> {
  if (pastedToken) {
    const c = decodeJwt(pastedToken);
    if (!c) return null;
    return { email: String(c.email ?? ""), userId: String(c.sub ?? ""), via: "token", role: String(c.role ?? "") };
  }
  const { data } = await auth().auth.getSession();
  const s = data.session;
  if (!s) return null;
  return { email: s.user.email ?? "", userId: s.user.id, via: "password", role: s.user.role ?? "authenticated" };
}

export async function signInWithPassword(email: string, password: string): Promise<void> {
  usePastedToken(null);
  const { error } = await auth().auth.signInWithPassword({ email, password });
  if (error) throw new ApiError(error.status ?? 400, error.message);
}

/** Checks a pasted JWT's shape; the API decides whether it is valid. */
export function usePastedToken(token: string | null): void {
  tokenClient = null;
  if (token === null) {
    pastedToken = null;
    sessionStorage.removeItem(PASTED_TOKEN_KEY);
    return;
  }
  const t = token.trim().replace(/^Bearer\s+/i, "");
  const claims = decodeJwt(t);
  if (!claims) throw new ApiError(400, "That is not a JWT (three base64url parts separated by dots).");
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) throw new ApiError(401, "That token has expired.");
  pastedToken = t;
  sessionStorage.setItem(PASTED_TOKEN_KEY, t);
}

export async function signOut(): Promise<void> {
  if (pastedToken) {
    usePastedToken(null);
    return;
  }
  await auth().auth.signOut({ scope: "local" }).catch(() => undefined);
}

async function accessToken(): Promise<string> {
  if (pastedToken) return pastedToken;
  const { data } = await auth().auth.getSession();
  if (!data.session) throw new ApiError(401, "Your session has ended: sign in again.");
  return data.session.access_token;
}

export type Period = { start: string; end: string; tz: string };

// A 503 is the database restarting or recovering (docs/api.md): asked again after the API's
// retry_after, a few times, before the panels show it, so the page rides out a restart on its own.
const UNAVAILABLE_RETRIES = 3;
const UNAVAILABLE_MAX_WAIT_S = 10;

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException("aborted", "AbortError"));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    }, { once: true });
  });
}

async function answerOf(url: string, signal?: AbortSignal): Promise<{ res: Response; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Authorization: `Bearer ${await accessToken()}`, apikey: anonKey },
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "The analytics API could not be reached. Is the stack running?");
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  return { res, body };
}

async function getJson<T>(path: string, params: Record<string, string>, schema: z.ZodType<T>, signal?: AbortSignal) {
  const qs = new URLSearchParams(params).toString();
  const url = `${BASE_URL}/functions/v1/analytics/${path}${qs ? `?${qs}` : ""}`;
  let { res, body } = await answerOf(url, signal);
  for (let attempt = 1; res.status === 503 && attempt <= UNAVAILABLE_RETRIES; attempt++) {
    // The body's retry_after: a cross-origin page cannot read the Retry-After header.
    const told = Number((body as { retry_after?: unknown } | null)?.retry_after);
    const seconds = Number.isFinite(told) && told > 0 ? Math.min(told, UNAVAILABLE_MAX_WAIT_S) : attempt;
    await wait(seconds * 1000, signal);
    ({ res, body } = await answerOf(url, signal));
  }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: string; msg?: string; message?: string; field?: string };
    throw new ApiError(res.status, b.error ?? b.msg ?? b.message ?? `HTTP ${res.status}`, b.field);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError(502, `The API answered in an unexpected shape (${issue.path.join(".")}: ${issue.message}).`);
  }
  return parsed.data;
}

/** The dashboard with the previous period beside it (compare=previous): the cards show the change. */
export function fetchDashboard(p: Period, limit: number, signal?: AbortSignal): Promise<ComparedDashboardResponse> {
  const params = { start: p.start, end: p.end, tz: p.tz, limit: String(limit), compare: "previous" };
  return getJson("dashboard", params, comparedDashboardResponse, signal);
}

/**
 * Downloads one table of a response as the API's CSV (format=csv&table=NAME): fetched with the
 * caller's token like the JSON, then saved under the file name the API gives.
 */
export async function downloadCsv(path: string, table: string, p: Period): Promise<string> {
  const qs = new URLSearchParams({ start: p.start, end: p.end, tz: p.tz, format: "csv", table });
  const res = await fetch(`${BASE_URL}/functions/v1/analytics/${path}?${qs}`, {
    headers: { Authorization: `Bearer ${await accessToken()}`, apikey: anonKey },
  });
  if (!res.ok) {
    const b = await res.json().catch(() => ({})) as { error?: string; field?: string };
    throw new ApiError(res.status, b.error ?? `HTTP ${res.status}`, b.field);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? `${table}.csv`;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

export function fetchMashup(id: string, p: Period, signal?: AbortSignal): Promise<MashupAnalyticsResponse> {
  return getJson(`mashups/${encodeURIComponent(id)}`, { start: p.start, end: p.end, tz: p.tz }, mashupAnalyticsResponse, signal);
}

export function fetchRealtime(signal?: AbortSignal): Promise<RealtimeResponse> {
  return getJson("realtime", {}, realtimeResponse, signal);
}

export type MashupRow = { id: string; title: string; created_at: string };

/** The creator's own mashups: a plain table read, row-level security keeps it to theirs. */
export async function fetchMyMashups(): Promise<MashupRow[]> {
  const { data, error } = await db().from("mashups").select("id, title, created_at").order("title");
  if (error) throw new ApiError(500, error.message);
  return (data ?? []) as MashupRow[];
}

export type { ComparedDashboardResponse, DashboardResponse, MashupAnalyticsResponse, RealtimeResponse };
