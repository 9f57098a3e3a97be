// The realtime recording and reading as they were before issue 14's command cut (commit e04b96b,
// functions/_shared/realtime.ts), kept verbatim but for the defaults (no client or lookup of its
// own): bench/realtime/commands.ts measures its Redis commands beside today's, in the same run.
// Not used by the backend.
import type { Redis } from "@upstash/redis";

/** What the realtime layer needs to know about one newly stored event. */
export type RealtimeEvent = {
  type: string;
  mashupId: string | null;
  /**
   * The creator the event counts toward: for user_followed the creator followed; for a mashup
   * event the mashup's creator. Optional for mashup events: when absent it is looked up in
   * rt:mashup_creator, filled from public.mashups on a miss.
   */
  creatorId?: string | null;
  /** u:<user>, a:<anonymous id> or s:<session id>, as in analytics_events.listener_key. */
  listenerKey: string;
  /** ISO-8601 event time as stored. */
  timestamp: string;
  properties: Record<string, unknown>;
};

/** Event type -> the plan's counter name under mashup:{id}:<name>. */
export const MASHUP_COUNTERS: Record<string, string> = {
  mashup_played: "plays",
  mashup_liked: "likes",
  mashup_shared: "shares",
  comment_posted: "comments",
  mashup_exported: "downloads",
  ai_reaction: "reactions",
};

/** Event types that mean "this listener is playing this mashup right now". */
const HEARTBEATS = new Set(["mashup_played", "mashup_play_progress"]);

export const ACTIVE_WINDOW_MS = 5 * 60_000;
export const PLAYING_WINDOW_MS = 60_000;
/** lastHour = the current UTC minute and the 59 before it. */
export const LAST_HOUR_MINUTES = 60;
/** Minute buckets live a little longer than the hour they serve (seconds, wall clock). */
const MINUTE_BUCKET_TTL_S = 2 * 3600;

export const DIRTY_SET = "rt:dirty";
export const MASHUP_CREATOR_HASH = "rt:mashup_creator";

export type RealtimeScope = { creatorId: string } | "platform";
const scopeKey = (scope: RealtimeScope) => (scope === "platform" ? "rt:platform" : `rt:c:${scope.creatorId}`);
export const keys = {
  active: (scope: RealtimeScope) => `${scopeKey(scope)}:active`,
  playingIndex: (scope: RealtimeScope) => `${scopeKey(scope)}:playing`,
  playing: (mashupId: string) => `rt:playing:${mashupId}`,
  minute: (scope: RealtimeScope, epochMinute: number) => `${scopeKey(scope)}:min:${epochMinute}`,
  mashupCounter: (mashupId: string, counter: string) => `mashup:${mashupId}:${counter}`,
  creatorFollowers: (creatorId: string) => `creator:${creatorId}:followers`,
};

/**
 * The clock of the realtime windows: ANALYTICS_NOW (ISO-8601) when set, so tests and demos can
 * pin it (scripts/edge-runtime.ts passes it to every function), else the wall clock.
 */
export function realtimeNow(): number {
  const pinned = Deno.env.get("ANALYTICS_NOW");
  if (pinned) {
    const t = Date.parse(pinned);
    if (!Number.isNaN(t)) return t;
  }
  return Date.now();
}

/** mashup id -> creator id for the ids given; missing ids are unknown mashups. */
export type CreatorLookup = (mashupIds: string[]) => Promise<Map<string, string>>;

/** Fills in each mashup event's creator from rt:mashup_creator, then the database for misses. */
async function resolveCreators(
  events: RealtimeEvent[],
  redis: Redis,
  lookup: CreatorLookup,
): Promise<Map<string, string>> {
  const wanted = [...new Set(events.filter((e) => e.mashupId && !e.creatorId).map((e) => e.mashupId!))];
  const found = new Map<string, string>();
  for (const e of events) if (e.mashupId && e.creatorId) found.set(e.mashupId, e.creatorId);
  if (wanted.length === 0) return found;
  const cached = await redis.hmget<Record<string, string>>(MASHUP_CREATOR_HASH, ...wanted);
  const misses: string[] = [];
  for (const id of wanted) {
    const c = cached?.[id];
    if (c) found.set(id, String(c));
    else misses.push(id);
  }
  if (misses.length > 0) {
    const fromDb = await lookup(misses);
    if (fromDb.size > 0) {
      await redis.hset(MASHUP_CREATOR_HASH, Object.fromEntries(fromDb));
      for (const [m, c] of fromDb) found.set(m, c);
    }
  }
  return found;
}

export type RecordOptions = {
  /** The clock the windows are measured against (epoch ms); default realtimeNow(). */
  now?: number;
  /** mashup -> creator lookup for events without creatorId; default public.mashups. */
  creatorsOf?: CreatorLookup;
};

/**
 * Counts these newly stored events: the plan's counters (+ dirty set), presence, playing-now and
 * minute buckets, for the platform and for the creator each event counts toward, in one
 * MULTI/EXEC. Throws if Redis fails; the events are already in Postgres, and the counters
 * recover from there (reconciliation), so the caller logs and carries on.
 */
export async function recordRealtime(
  events: RealtimeEvent[],
  redis: Redis,
  options: RecordOptions = {},
): Promise<void> {
  if (events.length === 0) return;
  const now = options.now ?? realtimeNow();
  const creators = await resolveCreators(events, redis, options.creatorsOf!);

  // Coalesced per key first, so a batch costs one command per key touched, not several per event:
  // counters become one INCRBY, a sorted set one ZADD GT with each member's latest time.
  const increments = new Map<string, number>(); // counter key -> delta
  const latest = new Map<string, Map<string, number>>(); // zset -> member -> latest time
  const trims = new Map<string, number>(); // zset -> window: trimmed and given a TTL once per batch
  const bucketFields = new Map<string, Map<string, number>>(); // minute bucket -> field -> delta
  const bump = (k: string) => increments.set(k, (increments.get(k) ?? 0) + 1);
  const touch = (k: string, member: string, t: number, windowMs: number) => {
    const members = latest.get(k) ?? new Map<string, number>();
    members.set(member, Math.max(members.get(member) ?? -Infinity, t));
    latest.set(k, members);
    trims.set(k, windowMs);
  };

  for (const e of events) {
    const creatorId = e.type === "user_followed"
      ? e.creatorId ?? null
      : e.mashupId
      ? creators.get(e.mashupId) ?? null
      : null;
    const scopes: RealtimeScope[] = creatorId ? ["platform", { creatorId }] : ["platform"];

    const counter = MASHUP_COUNTERS[e.type];
    if (counter && e.mashupId) bump(keys.mashupCounter(e.mashupId, counter));
    if (e.type === "user_followed" && e.creatorId) bump(keys.creatorFollowers(e.creatorId));

    // Windows: the event's time, never later than now (a client clock ahead of ours).
    const parsed = Date.parse(e.timestamp);
    const t = Math.min(Number.isNaN(parsed) ? now : parsed, now);
    if (t > now - ACTIVE_WINDOW_MS && e.listenerKey) {
      for (const s of scopes) touch(keys.active(s), e.listenerKey, t, ACTIVE_WINDOW_MS);
    }
    if (HEARTBEATS.has(e.type) && e.mashupId && e.listenerKey && t > now - PLAYING_WINDOW_MS) {
      touch(keys.playing(e.mashupId), e.listenerKey, t, PLAYING_WINDOW_MS);
      for (const s of scopes) touch(keys.playingIndex(s), e.mashupId, t, PLAYING_WINDOW_MS);
    }
    const minute = Math.floor(t / 60_000);
    if (counter && e.mashupId && minute > Math.floor(now / 60_000) - LAST_HOUR_MINUTES) {
      for (const s of scopes) {
        const b = keys.minute(s, minute);
        const fields = bucketFields.get(b) ?? new Map<string, number>();
        fields.set(counter, (fields.get(counter) ?? 0) + 1);
        bucketFields.set(b, fields);
      }
    }
  }
  if (increments.size + latest.size + bucketFields.size === 0) return;

  const tx = redis.multi();
  // Counters: the increment first, then the dirty mark (same transaction anyway).
  for (const [k, delta] of increments) tx.incrby(k, delta);
  if (increments.size > 0) {
    const [first, ...rest] = [...increments.keys()];
    tx.sadd(DIRTY_SET, first, ...rest);
  }
  for (const [k, members] of latest) {
    const [first, ...rest] = [...members].map(([member, score]) => ({ score, member }));
    tx.zadd(k, { gt: true }, first, ...rest);
  }
  for (const [b, fields] of bucketFields) {
    for (const [field, delta] of fields) tx.hincrby(b, field, delta);
    tx.expire(b, MINUTE_BUCKET_TTL_S);
  }
  // Expired members go when their set is next written; the TTL removes sets nobody writes to.
  for (const [k, windowMs] of trims) {
    tx.zremrangebyscore(k, "-inf", now - windowMs);
    tx.pexpire(k, 2 * windowMs);
  }
  await tx.exec();
}

export type PlayingNow = { mashupId: string; listeners: number };
/** The plan's realtime JSON. */
export type RealtimeSnapshot = {
  activeUsers: number;
  playingNow: PlayingNow[];
  lastHour: { plays: number; likes: number };
};

export type ReadOptions = {
  /** The clock (epoch ms); default realtimeNow(). */
  now?: number;
  /** At most this many playingNow entries, busiest first (default 100). */
  limit?: number;
  redis?: Redis;
};

/**
 * The realtime response for one scope: a creator's mashups ({ creatorId }) or the whole platform.
 *   activeUsers: distinct listeners with any event in (now - 5 min, now]
 *   playingNow:  listeners per mashup with a play or progress heartbeat in (now - 60 s, now],
 *                busiest first (ties by mashup id), at most `limit`
 *   lastHour:    plays and likes in the current UTC minute and the 59 before it
 * Two round trips to Redis whatever the scope.
 */
export async function readRealtime(
  scope: RealtimeScope,
  options: ReadOptions = {},
): Promise<RealtimeSnapshot> {
  const redis = options.redis!;
  const now = options.now ?? realtimeNow();
  const limit = options.limit ?? 100;
  const currentMinute = Math.floor(now / 60_000);

  const p = redis.pipeline();
  p.zcount(keys.active(scope), `(${now - ACTIVE_WINDOW_MS}`, now);
  p.zrange(keys.playingIndex(scope), `(${now - PLAYING_WINDOW_MS}`, now, { byScore: true });
  for (let i = 0; i < LAST_HOUR_MINUTES; i++) {
    p.hmget(keys.minute(scope, currentMinute - i), "plays", "likes");
  }
  const [active, playingIds, ...minutes] = (await p.exec()) as [
    number,
    string[],
    ...(Record<string, unknown> | null)[],
  ];

  let plays = 0;
  let likes = 0;
  for (const m of minutes) {
    plays += Number(m?.plays ?? 0);
    likes += Number(m?.likes ?? 0);
  }

  let playingNow: PlayingNow[] = [];
  const ids = (playingIds ?? []).map(String);
  if (ids.length > 0) {
    const q = redis.pipeline();
    for (const id of ids) q.zcount(keys.playing(id), `(${now - PLAYING_WINDOW_MS}`, now);
    const counts = (await q.exec()) as number[];
    playingNow = ids
      .map((mashupId, i) => ({ mashupId, listeners: Number(counts[i]) }))
      .filter((x) => x.listeners > 0)
      .sort((a, b) =>
        b.listeners - a.listeners || (a.mashupId < b.mashupId ? -1 : a.mashupId > b.mashupId ? 1 : 0)
      )
      .slice(0, limit);
  }
  return { activeUsers: Number(active), playingNow, lastHour: { plays, likes } };
}
