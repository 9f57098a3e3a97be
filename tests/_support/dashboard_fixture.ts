// A fixed fixture for the dashboard API: two creators, three mashups, ~400 plays with progress and
// endings, likes, shares, comments and follows between 2026-02-10 and 2026-03-20 (the US switch to
// daylight-saving time on 2026-03-08 inside the period), and the numbers the API must return,
// computed here in TypeScript straight from the fixture's raw events, independently of the SQL.
import { sql } from "./db.ts";
import { rng } from "./rng.ts";

export type FixtureEvent = {
  id: string;
  type: string;
  mashupId: string | null;
  userId: string | null;
  anonymousId: string | null;
  sessionId: string;
  at: Date;
  properties: Record<string, unknown>;
  country: string;
  device: string;
};

export type FixtureMashup = { id: string; creatorId: string; title: string; duration: number };


export function buildFixture(creatorA: string, creatorB: string, fans: string[]) {
  const r = rng(20260308);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const mashups: FixtureMashup[] = [
    { id: crypto.randomUUID(), creatorId: creatorA, title: "Fixture Alpha Mix", duration: 200 },
    { id: crypto.randomUUID(), creatorId: creatorA, title: "Fixture Beta Blend", duration: 125 },
    { id: crypto.randomUUID(), creatorId: creatorB, title: "Fixture Gamma Edit", duration: 180 },
  ];
  const events: FixtureEvent[] = [];
  const dayMs = 86_400_000;
  const from = Date.UTC(2026, 1, 10); // 2026-02-10
  const to = Date.UTC(2026, 2, 20); // 2026-03-20
  for (let i = 0; i < 420; i++) {
    let at = new Date(from + Math.floor(r() * (to - from)));
    // Beta has no plays before March: its growth must be null.
    let m = pick(mashups);
    if (m === mashups[1] && at.getTime() < Date.UTC(2026, 2, 1, 6)) m = mashups[0];
    // Leave 2026-03-04 (New York) without any play, so a zero-filled day is visible.
    const nyDay = localDate(at, "America/New_York");
    if (nyDay === "2026-03-04") at = new Date(at.getTime() + dayMs);
    const signedIn = r() < 0.6;
    const userId = signedIn ? pick(fans) : null;
    const anonymousId = signedIn ? null : `fixture-anon-${Math.floor(r() * 40)}`;
    const sessionId = `fixture-sess-${i}`;
    const playId = crypto.randomUUID();
    const source = pick(["direct", "direct", "direct", "twitter", "twitter", "instagram", "tiktok"]);
    const country = pick(["US", "US", "GB", "DE", "BR"]);
    const device = pick(["mobile", "mobile", "desktop", "tablet"]);
    const who = { userId, anonymousId, sessionId, country, device };
    events.push({
      id: crypto.randomUUID(), type: "mashup_played", mashupId: m.id, at, ...who,
      properties: { mashup_id: m.id, source, auto_play: false, play_id: playId },
    });
    const complete = r() < 0.5;
    const furthest = complete ? m.duration : Math.max(1, Math.floor(r() * m.duration));
    for (let pos = 30; pos <= furthest; pos += 30) {
      events.push({
        id: crypto.randomUUID(), type: "mashup_play_progress", mashupId: m.id,
        at: new Date(at.getTime() + pos * 1000), ...who,
        properties: { mashup_id: m.id, play_id: playId, position_seconds: pos, duration_seconds: m.duration },
      });
    }
    events.push({
      id: crypto.randomUUID(), type: "mashup_play_ended", mashupId: m.id,
      at: new Date(at.getTime() + furthest * 1000), ...who,
      properties: { mashup_id: m.id, play_id: playId, position_seconds: furthest, duration_seconds: m.duration },
    });
    const react = r();
    const later = new Date(at.getTime() + 20_000);
    if (react < 0.25) {
      events.push({ id: crypto.randomUUID(), type: "mashup_liked", mashupId: m.id, at: later, ...who,
        properties: { mashup_id: m.id } });
    } else if (react < 0.35) {
      events.push({ id: crypto.randomUUID(), type: "mashup_shared", mashupId: m.id, at: later, ...who,
        properties: { mashup_id: m.id, platform: "twitter" } });
    } else if (react < 0.40) {
      events.push({ id: crypto.randomUUID(), type: "comment_posted", mashupId: m.id, at: later, ...who,
        properties: { mashup_id: m.id, has_media: false } });
    }
  }
  return { mashups, events };
}

export async function insertFixture(
  creatorA: string,
  creatorB: string,
  fans: string[],
): Promise<ReturnType<typeof buildFixture>> {
  const fx = buildFixture(creatorA, creatorB, fans);
  await sql`insert into public.mashups ${
    sql(fx.mashups.map((m) => ({
      id: m.id, creator_id: m.creatorId, title: m.title, duration_seconds: m.duration,
      created_at: new Date(Date.UTC(2026, 0, 15)),
    })))
  }`;
  const rows = fx.events.map((e) => ({
    id: e.id, user_id: e.userId, event_type: e.type, properties: sql.json(e.properties as never), timestamp: e.at,
    session_id: e.sessionId, anonymous_id: e.anonymousId, received_at: e.at, country: e.country, device: e.device,
  }));
  for (let i = 0; i < rows.length; i += 500) {
    await sql`insert into public.analytics_events ${sql(rows.slice(i, i + 500))}`;
  }
  // Followers of A: three fans; A follows B.
  const follows: { follower_id: string; creator_id: string }[] = [
    ...fans.slice(0, 3).map((f) => ({ follower_id: f, creator_id: creatorA })),
    { follower_id: creatorA, creator_id: creatorB },
  ];
  await sql`insert into public.follows ${sql(follows)}`;
  return fx;
}

// --- the expected answers, from raw events ---------------------------------------------------------

export function localDate(d: Date, tz: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(d);
}
export function localHour(d: Date, tz: string): number {
  return Number(new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", hourCycle: "h23" }).format(d));
}
function days(start: string, end: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); t < Date.parse(`${end}T00:00:00Z`); t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}
const inPeriod = (e: FixtureEvent, start: string, end: string, tz: string) => {
  const d = localDate(e.at, tz);
  return d >= start && d < end;
};

/** Largest-remainder whole percentages (sum 100), busiest first; ties by key. */
export function wholePercentages(counts: Map<string, number>): { key: string; count: number; percentage: number }[] {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const rows = [...counts.entries()].filter(([, n]) => n > 0).map(([key, count]) => {
    const exact = (count * 100) / total;
    return { key, count, base: Math.floor(exact), rem: exact - Math.floor(exact) };
  });
  let missing = 100 - rows.reduce((a, r) => a + r.base, 0);
  const byRem = [...rows].sort((a, b) => b.rem - a.rem || b.count - a.count || (a.key < b.key ? -1 : 1));
  const bonus = new Set<string>();
  for (const r of byRem) if (missing-- > 0) bonus.add(r.key);
  return rows.map((r) => ({ key: r.key, count: r.count, percentage: r.base + (bonus.has(r.key) ? 1 : 0) }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
}

/** Rounds half away from zero, as PostgreSQL's round(numeric) does. */
export function round(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x) + 1e-9);
}

function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

export function expectedDashboard(
  fx: ReturnType<typeof buildFixture>,
  creator: string,
  followers: number,
  following: number,
  start: string,
  end: string,
  tz: string,
  limit = 10,
) {
  const mine = new Set(fx.mashups.filter((m) => m.creatorId === creator).map((m) => m.id));
  const ev = fx.events.filter((e) => e.mashupId && mine.has(e.mashupId));
  const cur = ev.filter((e) => inPeriod(e, start, end, tz));
  const len = days(start, end).length;
  const prevStart = new Date(Date.parse(`${start}T00:00:00Z`) - len * 86_400_000).toISOString().slice(0, 10);
  const prev = ev.filter((e) => inPeriod(e, prevStart, start, tz));
  const plays = cur.filter((e) => e.type === "mashup_played");
  const likes = cur.filter((e) => e.type === "mashup_liked");
  const top = fx.mashups.filter((m) => mine.has(m.id)).map((m) => {
    const p = plays.filter((e) => e.mashupId === m.id).length;
    const l = likes.filter((e) => e.mashupId === m.id).length;
    const pp = prev.filter((e) => e.type === "mashup_played" && e.mashupId === m.id).length;
    return { mashupId: m.id, title: m.title, plays: p, likes: l, growth: pp === 0 ? null : round(((p - pp) * 100) / pp) };
  }).filter((t) => t.plays > 0 || t.likes > 0)
    .sort((a, b) => b.plays - a.plays || b.likes - a.likes || (a.title < b.title ? -1 : 1)).slice(0, limit);
  return {
    period: { start, end },
    summary: {
      totalPlays: plays.length,
      totalLikes: likes.length,
      totalShares: cur.filter((e) => e.type === "mashup_shared").length,
      followers,
      following,
    },
    trends: {
      playsOverTime: days(start, end).map((d) => ({ date: d, plays: plays.filter((e) => localDate(e.at, tz) === d).length })),
      likesOverTime: days(start, end).map((d) => ({ date: d, likes: likes.filter((e) => localDate(e.at, tz) === d).length })),
    },
    topContent: top,
    sources: wholePercentages(countBy(plays, (e) => String(e.properties.source)))
      .map((x) => ({ source: x.key, count: x.count, percentage: x.percentage })),
    demographics: {
      countries: wholePercentages(countBy(plays, (e) => e.country)).map((x) => ({ country: x.key, percentage: x.percentage })),
      devices: wholePercentages(countBy(plays, (e) => e.device)).map((x) => ({ device: x.key, percentage: x.percentage })),
    },
  };
}

export function expectedMashup(
  fx: ReturnType<typeof buildFixture>,
  mashupId: string,
  start: string,
  end: string,
  tz: string,
) {
  const m = fx.mashups.find((x) => x.id === mashupId)!;
  const all = fx.events.filter((e) => e.mashupId === mashupId);
  const listener = (e: FixtureEvent) => e.userId ? `u:${e.userId}` : e.anonymousId ? `a:${e.anonymousId}` : `s:${e.sessionId}`;
  const allPlays = all.filter((e) => e.type === "mashup_played");
  const plays = allPlays.filter((e) => inPeriod(e, start, end, tz));
  const likes = all.filter((e) => e.type === "mashup_liked" && inPeriod(e, start, end, tz));
  // Per play: furthest position of its progress/ended events, capped at the duration.
  const furthest = plays.map((p) => {
    const pid = p.properties.play_id;
    const pos = all.filter((e) => e.properties.play_id === pid && e.type !== "mashup_played")
      .map((e) => Number(e.properties.position_seconds));
    return Math.min(m.duration, Math.max(0, ...pos));
  });
  const checkpoints: number[] = [];
  for (let t = 30; t < m.duration; t += 30) checkpoints.push(t);
  checkpoints.push(m.duration);
  const byHour = countBy(plays, (e) => String(localHour(e.at, tz)));
  return {
    mashup: { id: m.id, title: m.title },
    lifetime: {
      plays: allPlays.length,
      uniquePlays: new Set(allPlays.map(listener)).size,
      likes: all.filter((e) => e.type === "mashup_liked").length,
      shares: all.filter((e) => e.type === "mashup_shared").length,
      comments: all.filter((e) => e.type === "comment_posted").length,
    },
    retention: {
      avgWatchTime: furthest.length ? round((furthest.reduce((a, b) => a + b, 0) / furthest.length) * 10) / 10 : 0,
      completionRate: furthest.length
        ? round((100 * furthest.filter((f) => f >= 0.95 * m.duration).length) / furthest.length)
        : 0,
      dropOffPoints: furthest.length
        ? checkpoints.map((t) => ({ time: t, percentage: round((100 * furthest.filter((f) => f < t).length) / furthest.length) }))
        : [],
    },
    daily: days(start, end).map((d) => ({
      date: d,
      plays: plays.filter((e) => localDate(e.at, tz) === d).length,
      likes: likes.filter((e) => localDate(e.at, tz) === d).length,
    })),
    peakTimes: [...byHour.entries()].map(([hour, plays]) => ({ hour: Number(hour), plays }))
      .sort((a, b) => b.plays - a.plays || a.hour - b.hour),
  };
}
