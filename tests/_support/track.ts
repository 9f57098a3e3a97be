// What the track tests share: the endpoint, realistic User-Agents, a valid example of every
// catalog event, and reads of what was stored (service role) and counted (Upstash REST).
import { Redis } from "@upstash/redis";
import { SignJWT } from "jose";
import type { EventType, TrackEventInput, TrackResponse } from "../../types/events.ts";
import { API_URL, ENV, serviceClient } from "./env.ts";

export const TRACK_URL = `${API_URL}/functions/v1/track`;

/** The functions runtime itself, behind the gateway (STACK_PORT + 8): where hosted Supabase's edge,
 * which sets the trusted country header, would forward a request. The gateway drops a client's copy. */
export const RUNTIME_URL = `http://127.0.0.1:${Number(new URL(API_URL).port) + 8}`;

export const UA = {
  iphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  ipad:
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  windowsChrome:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  smartTv:
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/538.1 (KHTML, like Gecko) Version/6.0 TV Safari/538.1",
  playstation: "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
  googlebot: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  headlessChrome:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
};

export const uuid = (): string => crypto.randomUUID();

/** The properties of a valid event of each type, for fresh mashup / play / creator ids. */
export function validProperties(type: EventType, ids = { mashup: uuid(), play: uuid(), creator: uuid() }) {
  const all: Record<EventType, Record<string, unknown>> = {
    mashup_played: { mashup_id: ids.mashup, source: "twitter", auto_play: false, play_id: ids.play },
    mashup_play_progress: {
      mashup_id: ids.mashup,
      play_id: ids.play,
      position_seconds: 30,
      duration_seconds: 185,
    },
    mashup_play_ended: {
      mashup_id: ids.mashup,
      play_id: ids.play,
      position_seconds: 185,
      duration_seconds: 185,
    },
    mashup_liked: { mashup_id: ids.mashup },
    mashup_shared: { mashup_id: ids.mashup, platform: "whatsapp" },
    mashup_exported: { mashup_id: ids.mashup, platform: "tiktok", format: "mp4" },
    mashup_created: { mashup_id: ids.mashup, track_count: 3, duration: 185.5, used_ai: true },
    ai_reaction: { mashup_id: ids.mashup, reaction: "fire" },
    comment_posted: { mashup_id: ids.mashup, has_media: false },
    user_followed: { creator_id: ids.creator },
    subscription_upgraded: { from: "free", to: "pro" },
  };
  return all[type];
}

/**
 * fetch from a loopback address of its own (127.x.y.z), which the gateway passes on as the client
 * IP: each call is a new client for track's per-IP rate limit, so tests that are not about rate
 * limits never share a bucket (tests/integration/rate_limits.test.ts tests the limits).
 */
export async function fetchAsNewClient(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const b = crypto.getRandomValues(new Uint8Array(3));
  const client = Deno.createHttpClient({ localAddress: `127.${b[0]}.${b[1]}.${Math.max(2, b[2])}` } as Deno.CreateHttpClientOptions);
  try {
    const res = await fetch(input, { ...init, client } as RequestInit);
    const body = new Uint8Array(await res.arrayBuffer());
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } finally {
    client.close();
  }
}

/**
 * A valid anonymous event of `type` with a fresh id, and an anonymous id of its own (so tests never
 * share track's per-anonymous-id rate-limit bucket); `anon-test-` marks it for
 * tests/_support/cleanup.sql.
 */
export function validEvent(
  type: EventType,
  extra: Record<string, unknown> = {},
): TrackEventInput & { id: string } {
  return {
    type,
    id: uuid(),
    anonymous_id: `anon-test-${crypto.randomUUID().slice(0, 8)}`,
    session_id: "sess-test",
    properties: validProperties(type),
    ...extra,
  } as TrackEventInput & { id: string };
}

/** POSTs a body to the track function (path under /track), as a phone's browser unless told otherwise. */
export async function track(
  body: unknown,
  init: { token?: string; headers?: Record<string, string>; path?: string; raw?: BodyInit; behindEdge?: boolean } = {},
): Promise<{ status: number; body: TrackResponse & { error?: string; field?: string }; headers: Headers }> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": UA.iphone,
    ...init.headers,
  };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const url = init.behindEdge ? `${RUNTIME_URL}/track` : TRACK_URL;
  const res = await fetchAsNewClient(`${url}${init.path ?? ""}`, {
    method: "POST",
    headers,
    body: init.raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

export type StoredEvent = {
  id: string;
  user_id: string | null;
  event_type: string;
  properties: Record<string, unknown>;
  timestamp: string;
  received_at: string;
  session_id: string | null;
  anonymous_id: string | null;
  country: string | null;
  device: string | null;
  mashup_id: string | null;
  listener_key: string;
};

/** The stored rows of these event ids, read as the service role. */
export async function storedEvents(ids: string[]): Promise<StoredEvent[]> {
  const rows: StoredEvent[] = [];
  // The ids go in the URL, and PostgREST echoes it in a header the gateway caps at 4 KiB.
  for (let i = 0; i < ids.length; i += 40) {
    const { data, error } = await serviceClient().from("analytics_events").select("*").in(
      "id",
      ids.slice(i, i + 40),
    );
    if (error) throw new Error(error.message);
    rows.push(...(data as StoredEvent[]));
  }
  return rows.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
}

export async function storedEventsWhere(
  column: "anonymous_id" | "session_id",
  value: string,
): Promise<StoredEvent[]> {
  const { data, error } = await serviceClient().from("analytics_events").select("*").eq(column, value)
    .order("timestamp");
  if (error) throw new Error(error.message);
  return data as StoredEvent[];
}

export async function storedBotEvents(ids: string[]) {
  const { data, error } = await serviceClient().from("analytics_bot_events").select("*").in("id", ids);
  if (error) throw new Error(error.message);
  return data;
}

/** Counters as the realtime layer reads them: Upstash REST with default options. */
export const redis = new Redis({ url: ENV.UPSTASH_REDIS_REST_URL, token: ENV.UPSTASH_REDIS_REST_TOKEN });

/** The plan's counters of one mashup (null where never incremented). */
export async function mashupCounters(mashupId: string) {
  const names = ["plays", "likes", "shares", "comments", "downloads", "reactions"] as const;
  const values = await redis.mget<(number | null)[]>(...names.map((n) => `mashup:${mashupId}:${n}`));
  return Object.fromEntries(names.map((n, i) => [n, values[i]])) as Record<
    (typeof names)[number],
    number | null
  >;
}

/** An access token for any user id, signed with the project's JWT secret (as GoTrue would). */
export async function tokenFor(userId: string): Promise<string> {
  return await new SignJWT({ role: "authenticated", aud: "authenticated" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET));
}

/** Gzip of a string, as posthog-js and posthog-node compress. */
export async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
