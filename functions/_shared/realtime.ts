// Live counters and realtime windows in Redis, fed by the track function for newly stored events
// only, read by the analytics function's realtime response. docs/realtime.md has the whole design.
//
// Keys. Upstash bills per command, so a batch costs one script call that reads the creator cache
// and the fence in one HMGET and writes one sorted set per scope plus one INCRBY per counter
// (docs/realtime.md, "Commands per event"):
//   mashup:{id}:<counter>      the plan's counters: increments not yet synced to Postgres
//   creator:{id}:followers     follows of a creator not yet synced
//   rt:{scope}:recent          ZSET, one per scope, every window in typed members:
//     a|{listener}             time (ms) of the listener's latest event           (activeUsers)
//     p|{mashup}|{listener}    time of their latest play / progress heartbeat      (playingNow)
//     x|{mashup}|{listener}    time of their latest mashup_play_ended              (playingNow)
//     e|plays|{event id}       one member per play / like, at its time             (lastHour)
//     e|likes|{event id}
//   and in rt:platform:recent only:
//     d|{counter key}          score +inf: the counter holds a delta (the sync reads these, never KEYS)
//     r                        score = the latest received_at (epoch µs) counted (the fence, below)
//     s|{creatorId}            time of the creator's latest member: the sync trims the sets listed
//   rt:mashup_creator          HASH mashup id -> creator id (creator_cache.ts), and field !fence:
//                              epoch µs set by each reconciliation; increments of events received
//                              before it are refused (the reconciliation counted them from Postgres)
// where {scope} is `platform` or `c:{creatorId}`. Every event goes to the platform scope and to the
// scope of the creator it counts toward. Members are unique per listener / event, so writing one
// twice (a late write after a repair) changes nothing: the windows can be repaired from Postgres
// by union at any time. Old members are trimmed by the sync, not here (docs/realtime.md).
import type { Redis } from "@upstash/redis";
import { redisClient } from "./redis.ts";
import { type CreatorLookup, fillMashupCreators, MASHUP_CREATOR_HASH } from "./creator_cache.ts";

/** What the realtime layer needs to know about one newly stored event. */
export type RealtimeEvent = {
  /** analytics_events.id: the lastHour member of a play or like. */
  id: string;
  type: string;
  mashupId: string | null;
  /**
   * The creator the event counts toward: for user_followed the creator followed; for a mashup
   * event the mashup's creator. Optional for mashup events: when absent it is looked up in the
   * creator cache (creator_cache.ts).
   */
  creatorId?: string | null;
  /** u:<user>, a:<anonymous id> or s:<session id>, as in analytics_events.listener_key. */
  listenerKey: string;
  /** ISO-8601 event time as stored. */
  timestamp: string;
  /** analytics_events.received_at as epoch microseconds (exact: compared with the fence). */
  receivedAtUs: number;
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
/** The counters the lastHour window shows. */
const LAST_HOUR_COUNTERS = new Set(["plays", "likes"]);

/** Event types that mean "this listener is playing this mashup right now". */
const HEARTBEATS = new Set(["mashup_played", "mashup_play_progress"]);
const ENDED = "mashup_play_ended";

export const ACTIVE_WINDOW_MS = 5 * 60_000;
export const PLAYING_WINDOW_MS = 60_000;
export const LAST_HOUR_MS = 3_600_000;

/**
 * The fence (epoch µs): increments of events received before it are refused. It is a field of the
 * creator cache hash (never a mashup id) so the record script reads it with the creators in one
 * HMGET; only the reconciliation writes it.
 */
export const FENCE_FIELD = "!fence";
/** Counter keys of the sets before rt:{scope}:recent; still drained by the sync after an upgrade. */
export const LEGACY_DIRTY_SET = "rt:dirty";

export type RealtimeScope = { creatorId: string } | "platform";
export const keys = {
  recent: (scope: RealtimeScope) => (scope === "platform" ? "rt:platform:recent" : `rt:c:${scope.creatorId}:recent`),
  mashupCounter: (mashupId: string, counter: string) => `mashup:${mashupId}:${counter}`,
  creatorFollowers: (creatorId: string) => `creator:${creatorId}:followers`,
};
export const PLATFORM_RECENT = keys.recent("platform");
export const member = {
  active: (listener: string) => `a|${listener}`,
  playing: (mashupId: string, listener: string) => `p|${mashupId}|${listener}`,
  ended: (mashupId: string, listener: string) => `x|${mashupId}|${listener}`,
  counted: (counter: string, eventId: string) => `e|${counter}|${eventId}`,
  dirty: (counterKey: string) => `d|${counterKey}`,
};

/**
 * Score bands of the window sets. A member's score is its time (epoch ms) plus its kind's band, so
 * a read counts presence and the hour's plays and likes with ZCOUNT over one band (O(log n)) and
 * scans only the last minute of the playing band. Before, every read walked the scope's whole hour
 * in a script: with one mashup at 300,000 plays an hour that blocked Redis for ~0.6 s per read of
 * its creator's live panel (which polls every 10 s). The bands also let the sync drop every
 * listener's members at once (ZREMRANGEBYSCORE) and trim the playing band after its minute.
 * Band 0 (time alone): the platform set's s| members. 'r' (epoch µs) and d| (+inf) lie above every band.
 */
export const SCORE_BAND = 1e13;
export const BAND = { active: 1, plays: 2, likes: 3, playing: 4 } as const;
/** The bands that hold listeners' members (a|, e|plays|, e|likes|, p| and x|). */
export const LISTENER_BANDS = [BAND.active, BAND.plays, BAND.likes, BAND.playing];

/** The score a window member gets for an event at `t` (epoch ms): its kind's band plus t. */
export function windowScore(m: string, t: number): number {
  const band = m.startsWith("a|")
    ? BAND.active
    : m.startsWith("e|plays|")
    ? BAND.plays
    : m.startsWith("e|likes|")
    ? BAND.likes
    : m.startsWith("p|") || m.startsWith("x|")
    ? BAND.playing
    : 0;
  return band * SCORE_BAND + t;
}

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

// KEYS: rt:mashup_creator, rt:platform:recent.
// ARGV: nCounters, (receivedAtUs, counter key, delta) x nCounters,
//       nPlatform, (score, member) x nPlatform,
//       nGroups, (mashup id or "", creator id or "", nPairs, (score, member) x nPairs) x nGroups,
//       latest receivedAtUs counted (or "0").
// One HMGET reads the fence and the creators of the groups that name a mashup; each group's
// members go to its creator's set (with an s| member in the platform set), in one ZADD GT per
// scope. The counters of events received before the fence are refused (a reconciliation counted
// them from Postgres). Returns the refused increments, then the mashup ids not in the cache.
export const RECORD_SCRIPT = `
local i = 1
local function arg() i = i + 1; return ARGV[i - 1] end
local function zadd(key, args)
  -- unpack() is bounded by Lua's stack: very large batches go in slices.
  for a = 1, #args, 4000 do redis.call('ZADD', key, 'GT', unpack(args, a, math.min(a + 3999, #args))) end
end
local counters = {}
for c = 1, tonumber(arg()) do counters[c] = {tonumber(arg()), arg(), arg()} end
local platform = {}
for j = 1, 2 * tonumber(arg()) do platform[j] = arg() end
local groups, wanted, waiting = {}, {'${FENCE_FIELD}'}, {}
for g = 1, tonumber(arg()) do
  local group = {mashup = arg(), creator = arg(), members = {}}
  for j = 1, 2 * tonumber(arg()) do group.members[j] = arg() end
  if group.creator == '' then wanted[#wanted + 1] = group.mashup; waiting[#wanted] = group end
  groups[g] = group
end
local latest = arg()
local fence = 0
if #counters > 0 or #wanted > 1 then
  local found = redis.call('HMGET', KEYS[1], unpack(wanted))
  fence = tonumber(found[1] or '0')
  for j = 2, #wanted do waiting[j].creator = found[j] end
end
local refused = 0
for _, c in ipairs(counters) do
  if c[1] >= fence then
    redis.call('INCRBY', c[2], c[3])
    platform[#platform + 1] = '+inf'; platform[#platform + 1] = 'd|' .. c[2]
  else
    refused = refused + tonumber(c[3])
  end
end
if latest ~= '0' then platform[#platform + 1] = latest; platform[#platform + 1] = 'r' end
local byCreator, creators, misses = {}, {}, {}
for _, group in ipairs(groups) do
  if group.creator and group.creator ~= '' then
    local set = byCreator[group.creator]
    if not set then set = {}; byCreator[group.creator] = set; creators[#creators + 1] = group.creator end
    local newest = nil
    for j = 1, #group.members, 2 do
      set[#set + 1] = group.members[j]; set[#set + 1] = group.members[j + 1]
      -- The creator's latest activity: the member's time, without its score band.
      local t = tonumber(group.members[j]) % ${SCORE_BAND}
      if not newest or t > newest then newest = t end
    end
    if newest then
      platform[#platform + 1] = string.format('%.0f', newest); platform[#platform + 1] = 's|' .. group.creator
    end
  else
    misses[#misses + 1] = group.mashup
  end
end
if #platform > 0 then zadd(KEYS[2], platform) end
for _, creator in ipairs(creators) do zadd('rt:c:' .. creator .. ':recent', byCreator[creator]) end
local out = {refused}
for _, m in ipairs(misses) do out[#out + 1] = m end
return out
`;

/**
 * The members an event adds to its scopes' sorted sets, as [member, score]: the time clamped to
 * now, in the member's score band (windowScore).
 */
export function windowMembers(e: RealtimeEvent, now: number): [string, number][] {
  const parsed = Date.parse(e.timestamp);
  const t = Math.min(Number.isNaN(parsed) ? now : parsed, now);
  const out: [string, number][] = [];
  if (e.listenerKey && t > now - ACTIVE_WINDOW_MS) out.push([member.active(e.listenerKey), t]);
  if (e.mashupId && e.listenerKey && t > now - PLAYING_WINDOW_MS) {
    if (HEARTBEATS.has(e.type)) out.push([member.playing(e.mashupId, e.listenerKey), t]);
    if (e.type === ENDED) out.push([member.ended(e.mashupId, e.listenerKey), t]);
  }
  const counter = MASHUP_COUNTERS[e.type];
  if (counter && e.mashupId && LAST_HOUR_COUNTERS.has(counter) && t > now - LAST_HOUR_MS) {
    out.push([member.counted(counter, e.id), t]);
  }
  return out.map(([m, time]) => [m, windowScore(m, time)]);
}

export type RecordOptions = {
  /** The clock the windows are measured against (epoch ms); default realtimeNow(). */
  now?: number;
  /** mashup -> creator lookup for cache misses; default public.mashups. */
  creatorsOf?: CreatorLookup;
};

type Group = { mashupId: string; creatorId: string; members: Map<string, number> };

function scriptArgs(
  increments: Map<string, number>,
  platform: Map<string, number>,
  groups: Iterable<Group>,
  latestReceived: number,
): string[] {
  const args: string[] = [String(increments.size)];
  for (const [k, delta] of increments) {
    const [us, counterKey] = k.split("\0");
    args.push(us, counterKey, String(delta));
  }
  args.push(String(platform.size));
  for (const [m, score] of platform) args.push(String(score), m);
  const list = [...groups];
  args.push(String(list.length));
  for (const g of list) {
    args.push(g.mashupId, g.creatorId, String(g.members.size));
    for (const [m, score] of g.members) args.push(String(score), m);
  }
  args.push(String(latestReceived));
  return args;
}

/**
 * Counts these newly stored events: the plan's counters (with their dirty marks) and the windows,
 * for the platform and for the creator each event counts toward, in one atomic script call (a
 * second one only for mashups the creator cache did not know yet). Throws if Redis fails; the
 * events are already in Postgres, and the sync repairs the windows and the reconciliation the
 * counters from there, so the caller logs and carries on.
 * Returns the increments refused by the fence (counted by a reconciliation instead).
 */
export async function recordRealtime(
  events: RealtimeEvent[],
  redis: Redis = redisClient(),
  options: RecordOptions = {},
): Promise<{ refused: number }> {
  if (events.length === 0) return { refused: 0 };
  const now = options.now ?? realtimeNow();

  // Coalesced per key: one INCRBY per (counter, received time), one ZADD GT per scope.
  const increments = new Map<string, number>(); // receivedAtUs \0 counter key -> delta
  const platform = new Map<string, number>(); // member -> latest time
  const groups = new Map<string, Group>(); // by creator (known) or by mashup (to look up)
  const add = (members: Map<string, number>, m: string, score: number) =>
    members.set(m, Math.max(members.get(m) ?? -Infinity, score));
  let latestReceived = 0;
  for (const e of events) {
    const counter = MASHUP_COUNTERS[e.type];
    const counterKey = counter && e.mashupId
      ? keys.mashupCounter(e.mashupId, counter)
      : e.type === "user_followed" && e.creatorId
      ? keys.creatorFollowers(e.creatorId)
      : null;
    if (counterKey) {
      const k = `${e.receivedAtUs}\0${counterKey}`;
      increments.set(k, (increments.get(k) ?? 0) + 1);
      latestReceived = Math.max(latestReceived, e.receivedAtUs);
    }
    const members = windowMembers(e, now);
    if (members.length === 0) continue;
    // The creator scope: known (a follow's creator, or given by the caller), else the mashup's
    // creator, which the script looks up in the cache.
    const known = e.type === "user_followed" || e.mashupId ? e.creatorId ?? null : null;
    const groupKey = known ? `c:${known}` : e.type !== "user_followed" && e.mashupId ? `m:${e.mashupId}` : null;
    let group: Group | null = null;
    if (groupKey) {
      group = groups.get(groupKey) ?? { mashupId: known ? "" : e.mashupId!, creatorId: known ?? "", members: new Map() };
      groups.set(groupKey, group);
    }
    for (const [m, score] of members) {
      add(platform, m, score);
      if (group) add(group.members, m, score);
    }
  }
  if (increments.size === 0 && platform.size === 0) return { refused: 0 };

  const keyList = [MASHUP_CREATOR_HASH, PLATFORM_RECENT];
  const [refused, ...misses] = (await redis.eval(
    RECORD_SCRIPT,
    keyList,
    scriptArgs(increments, platform, groups.values(), latestReceived),
  )) as [number, ...string[]];
  if (misses.length > 0) {
    // First sight of these mashups: their owners from Postgres, then their creator-scope members.
    const found = await fillMashupCreators(redis, misses.map(String), options.creatorsOf);
    const late = [...found].map(([mashupId, creatorId]) => ({
      mashupId: "",
      creatorId,
      members: groups.get(`m:${mashupId}`)!.members,
    }));
    if (late.length > 0) await redis.eval(RECORD_SCRIPT, keyList, scriptArgs(new Map(), new Map(), late, 0));
  }
  return { refused: Number(refused) };
}

export type PlayingNow = { mashupId: string; listeners: number };
/** The plan's realtime JSON. */
export type RealtimeSnapshot = {
  activeUsers: number;
  playingNow: PlayingNow[];
  lastHour: { plays: number; likes: number };
};

// KEYS: the scope's set. ARGV: now (ms). One range read of the last hour, counted in place.
// Returns activeUsers, plays, likes, then mashup id and listener count pairs.
const READ_SCRIPT = `
local now = tonumber(ARGV[1])
local function at(x) return string.format('%.0f', x) end
local function band(b, width)
  return '(' .. at(b * ${SCORE_BAND} + now - width), at(b * ${SCORE_BAND} + now)
end
local a1, a2 = band(${BAND.active}, ${ACTIVE_WINDOW_MS})
local p1, p2 = band(${BAND.plays}, ${LAST_HOUR_MS})
local l1, l2 = band(${BAND.likes}, ${LAST_HOUR_MS})
local active = redis.call('ZCOUNT', KEYS[1], a1, a2)
local plays = redis.call('ZCOUNT', KEYS[1], p1, p2)
local likes = redis.call('ZCOUNT', KEYS[1], l1, l2)
-- Playing and ended members of the last minute only (their band): an ended mark older than the
-- playing window cannot end a play heard within it.
local g1, g2 = band(${BAND.playing}, ${PLAYING_WINDOW_MS})
local items = redis.call('ZRANGEBYSCORE', KEYS[1], g1, g2, 'WITHSCORES')
local playing, ended = {}, {}
for j = 1, #items, 2 do
  local m = items[j]; local t = tonumber(items[j + 1]); local kind = string.sub(m, 1, 2)
  if kind == 'p|' then playing[string.sub(m, 3)] = t
  elseif kind == 'x|' then ended[string.sub(m, 3)] = t end
end
local per = {}
for pair, t in pairs(playing) do
  local e = ended[pair]
  if not e or e < t then
    local mashup = string.sub(pair, 1, 36)
    per[mashup] = (per[mashup] or 0) + 1
  end
end
local out = {active, plays, likes}
for mashup, n in pairs(per) do out[#out + 1] = mashup; out[#out + 1] = n end
return out
`;

export type ReadOptions = {
  /** The clock (epoch ms); default realtimeNow(). */
  now?: number;
  /** At most this many playingNow entries, busiest first (default 100). */
  limit?: number;
  redis?: Redis;
};

/** Busiest first, ties by mashup id, at most `limit`. */
export function rankPlaying(counts: Map<string, number>, limit: number): PlayingNow[] {
  return [...counts].map(([mashupId, listeners]) => ({ mashupId, listeners }))
    .filter((x) => x.listeners > 0)
    .sort((a, b) => b.listeners - a.listeners || (a.mashupId < b.mashupId ? -1 : a.mashupId > b.mashupId ? 1 : 0))
    .slice(0, limit);
}

/**
 * The realtime response for one scope: a creator's mashups ({ creatorId }) or the whole platform.
 *   activeUsers: distinct listeners with any event in (now - 5 min, now]
 *   playingNow:  listeners per mashup whose latest play or progress heartbeat is in
 *                (now - 60 s, now] and not followed (or matched in time) by their
 *                mashup_play_ended; busiest first (ties by mashup id), at most `limit`
 *   lastHour:    plays and likes with an event time in (now - 1 h, now]
 * One script call (one range read) whatever the scope.
 */
export async function readRealtime(scope: RealtimeScope, options: ReadOptions = {}): Promise<RealtimeSnapshot> {
  const redis = options.redis ?? redisClient();
  const now = options.now ?? realtimeNow();
  const out = (await redis.eval(READ_SCRIPT, [keys.recent(scope)], [String(now)])) as (string | number)[];
  const counts = new Map<string, number>();
  for (let i = 3; i + 1 < out.length; i += 2) counts.set(String(out[i]), Number(out[i + 1]));
  return {
    activeUsers: Number(out[0]),
    playingNow: rankPlaying(counts, options.limit ?? 100),
    lastHour: { plays: Number(out[1]), likes: Number(out[2]) },
  };
}
