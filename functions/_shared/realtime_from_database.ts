// The realtime windows as Postgres's raw events give them (realtime_window_members): written into
// Redis by the sync's window repair, and answered directly by the analytics function while Redis
// is down. The same members and rules as functions/_shared/realtime.ts.
import type { SupabaseClient } from "@supabase/supabase-js";
import {
  ACTIVE_WINDOW_MS,
  LAST_HOUR_MS,
  PLAYING_WINDOW_MS,
  type PlayingNow,
  rankPlaying,
  type RealtimeSnapshot,
} from "./realtime.ts";

/** [creator id or null, member, score (ms)] as realtime_window_members returns them. */
export type WindowMember = [string | null, string, number];

/**
 * The members raw events give at `now`, for every scope or for one creator's; with `receivedSince`
 * (epoch ms), only those of events received since then (the sync's repair after its first).
 */
export async function windowMembersFromDatabase(
  db: SupabaseClient,
  now: number,
  creatorId?: string,
  receivedSince?: number,
): Promise<WindowMember[]> {
  const { data, error } = await db.rpc("realtime_window_members", {
    p_now: new Date(now).toISOString(),
    ...(creatorId ? { p_creator_id: creatorId } : {}),
    ...(receivedSince !== undefined ? { p_received_since: new Date(receivedSince).toISOString() } : {}),
  });
  if (error) throw new Error(`realtime_window_members: ${error.message}`);
  return (data as WindowMember[]).map(([c, m, s]) => [c, m, Number(s)]);
}

/**
 * The realtime response computed from window members (the rules of realtime.ts's READ_SCRIPT):
 * what the analytics function answers from Postgres while Redis is down.
 */
export function snapshotFromMembers(members: WindowMember[], now: number, limit = 100): RealtimeSnapshot {
  // A listener has one a| member per creator they were active for (and one without a creator):
  // the platform scope counts each listener once, as its one Redis member does.
  const active = new Set<string>();
  const counted = new Set<string>();
  let plays = 0;
  let likes = 0;
  const playing = new Map<string, number>();
  const ended = new Map<string, number>();
  for (const [, m, t] of members) {
    if (t <= now - LAST_HOUR_MS || t > now) continue;
    if (m.startsWith("a|")) {
      if (t > now - ACTIVE_WINDOW_MS) active.add(m);
    } else if (m.startsWith("e|")) {
      if (counted.has(m)) continue;
      counted.add(m);
      if (m.startsWith("e|plays|")) plays++;
      else if (m.startsWith("e|likes|")) likes++;
    } else if (m.startsWith("p|") && t > now - PLAYING_WINDOW_MS) {
      playing.set(m.slice(2), Math.max(t, playing.get(m.slice(2)) ?? 0));
    } else if (m.startsWith("x|")) ended.set(m.slice(2), Math.max(t, ended.get(m.slice(2)) ?? 0));
  }
  const perMashup = new Map<string, number>();
  for (const [pair, t] of playing) {
    const e = ended.get(pair);
    if (e !== undefined && e >= t) continue;
    const mashupId = pair.slice(0, 36);
    perMashup.set(mashupId, (perMashup.get(mashupId) ?? 0) + 1);
  }
  const playingNow: PlayingNow[] = rankPlaying(perMashup, limit);
  return { activeUsers: active.size, playingNow, lastHour: { plays, likes } };
}

