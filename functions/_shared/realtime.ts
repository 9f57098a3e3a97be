// Live counters in Redis, fed by the track function for newly stored events only.
// Keys are the plan's: mashup:{id}:plays, mashup:{id}:likes, ... (one INCR per counted event),
// written in one pipeline per batch. The realtime-sync function moves them into Postgres.
import type { Redis } from "@upstash/redis";
import { redisClient } from "./redis.ts";

/** What the realtime layer needs to know about one newly stored event. */
export type RealtimeEvent = {
  type: string;
  mashupId: string | null;
  /** For user_followed: the creator followed. */
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

/** Increments the counters of these (new) events in one pipeline. Throws if Redis fails. */
export async function recordRealtime(events: RealtimeEvent[], redis: Redis = redisClient()): Promise<void> {
  const p = redis.pipeline();
  let n = 0;
  for (const e of events) {
    const counter = MASHUP_COUNTERS[e.type];
    if (counter && e.mashupId) {
      p.incr(`mashup:${e.mashupId}:${counter}`);
      n++;
    }
    if (e.type === "user_followed" && e.creatorId) {
      p.incr(`creator:${e.creatorId}:followers`);
      n++;
    }
  }
  if (n > 0) await p.exec();
}
