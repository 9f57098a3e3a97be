// Fixtures for the realtime tests: what the track function does for each batch (store the raw
// events, then count the new ones in Redis), with fresh creators and mashups per test.
import { Redis } from "@upstash/redis";
import { ENV, serviceClient } from "./env.ts";
import { createUser, sql } from "./db.ts";
import { type RealtimeEvent, recordRealtime } from "../../functions/_shared/realtime.ts";

// functions/_shared reads its configuration from the environment, as inside an Edge Function.
for (
  const k of [
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_DB_URL",
  ]
) Deno.env.set(k, ENV[k]);

export const redis = new Redis({ url: ENV.UPSTASH_REDIS_REST_URL, token: ENV.UPSTASH_REDIS_REST_TOKEN });
export const service = serviceClient();

export async function creatorWithMashups(label: string, n: number) {
  const user = await createUser(label);
  const mashups: string[] = [];
  for (let i = 0; i < n; i++) {
    const [m] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
      values (${user.id}, ${`${label} mix ${i + 1}`}, 180) returning id`;
    mashups.push(m.id);
  }
  return { ...user, mashups };
}

export type TestEvent = {
  type: string;
  mashupId?: string | null;
  creatorId?: string | null; // for user_followed: the creator followed
  listener: string; // anonymous id
  at: number; // event time, epoch ms
  receivedAt?: number; // default: the database's now()
};

/** Stores the events as raw events (as the track function does), then records them in Redis. */
export async function track(events: TestEvent[], now?: number): Promise<{ refused: number }> {
  const stored = await storeRaw(events);
  const realtime: RealtimeEvent[] = events.map((e, i) => ({
    id: stored[i].id,
    receivedAtUs: stored[i].receivedAtUs,
    type: e.type,
    mashupId: e.mashupId ?? null,
    creatorId: e.type === "user_followed" ? e.creatorId : undefined,
    listenerKey: `a:${e.listener}`,
    timestamp: new Date(e.at).toISOString(),
    properties: stored[i].properties,
  }));
  return await recordRealtime(realtime, redis, { now });
}

/**
 * Stores the events as raw events only, as the track function does before it counts them in Redis
 * (so, alone: events whose Redis write was lost). Returns each one's id and received_at in epoch µs.
 */
export async function storeRaw(
  events: TestEvent[],
): Promise<{ id: string; receivedAtUs: number; properties: Record<string, unknown> }[]> {
  const rows = events.map((e) => ({
    id: crypto.randomUUID(),
    event_type: e.type,
    properties: e.type === "user_followed"
      ? { creator_id: e.creatorId }
      : e.mashupId
      ? { mashup_id: e.mashupId }
      : {},
    timestamp: new Date(e.at).toISOString(),
    anonymous_id: e.listener,
    session_id: `s-${e.listener}`,
    received_at: e.receivedAt === undefined ? null : new Date(e.receivedAt).toISOString(),
  }));
  // The controlled clocks of the realtime tests lie years ahead, past the monthly partitions
  // created ahead: create the months these events fall in (raw_events.create_month is idempotent).
  await sql`select raw_events.create_month(m::date) from (select distinct date_trunc('month', t, 'UTC') as m
            from unnest(${rows.map((r) => r.timestamp)}::timestamptz[]) as t) months`;
  const out = await sql<{ id: string; us: string }[]>`
    insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, session_id, received_at)
    select r.id, r.event_type, r.properties, r."timestamp", r.anonymous_id, r.session_id, coalesce(r.received_at, now())
    from jsonb_to_recordset(${
    sql.json(rows)
  }) as r (id uuid, event_type text, properties jsonb, "timestamp" timestamptz,
      anonymous_id text, session_id text, received_at timestamptz)
    returning id, (extract(epoch from received_at) * 1000000)::bigint::text as us`;
  const us = new Map(out.map((r) => [r.id, Number(r.us)]));
  return rows.map((r) => ({ id: r.id, receivedAtUs: us.get(r.id)!, properties: r.properties }));
}

export type Totals = Record<
  string,
  { plays: number; likes: number; shares: number; comments: number; downloads: number; reactions: number }
>;

export async function totalsOf(mashupIds: string[]): Promise<Totals> {
  const rows = await sql<
    {
      mashup_id: string;
      plays: string;
      likes: string;
      shares: string;
      comments: string;
      downloads: string;
      reactions: string;
    }[]
  >`
    select mashup_id, plays, likes, shares, comments, downloads, reactions from public.mashup_realtime_totals
    where mashup_id = any(${mashupIds}::uuid[])`;
  const out: Totals = {};
  for (const id of mashupIds) {
    out[id] = { plays: 0, likes: 0, shares: 0, comments: 0, downloads: 0, reactions: 0 };
  }
  for (const r of rows) {
    out[r.mashup_id] = {
      plays: Number(r.plays),
      likes: Number(r.likes),
      shares: Number(r.shares),
      comments: Number(r.comments),
      downloads: Number(r.downloads),
      reactions: Number(r.reactions),
    };
  }
  return out;
}

/** The same shape, counted straight from raw events. */
export async function rawCountsOf(mashupIds: string[]): Promise<Totals> {
  const rows = await sql<{ mashup_id: string; event_type: string; n: string }[]>`
    select mashup_id, event_type, count(*) as n from public.analytics_events
    where mashup_id = any(${mashupIds}::uuid[]) group by 1, 2`;
  const out: Totals = {};
  for (const id of mashupIds) {
    out[id] = { plays: 0, likes: 0, shares: 0, comments: 0, downloads: 0, reactions: 0 };
  }
  const name: Record<string, keyof Totals[string]> = {
    mashup_played: "plays",
    mashup_liked: "likes",
    mashup_shared: "shares",
    comment_posted: "comments",
    mashup_exported: "downloads",
    ai_reaction: "reactions",
  };
  for (const r of rows) if (name[r.event_type]) out[r.mashup_id][name[r.event_type]] += Number(r.n);
  return out;
}

export async function followersOf(creatorId: string): Promise<number> {
  const [r] = await sql<{ followers: string }[]>`
    select coalesce((select followers from public.creator_realtime_totals where creator_id = ${creatorId}), 0) as followers`;
  return Number(r.followers);
}

export async function redisCli(...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", ENV.REDIS_PORT, ...args],
    env: { REDISCLI_AUTH: ENV.REDIS_PASSWORD },
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}
