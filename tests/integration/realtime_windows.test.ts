// The realtime windows with a controlled clock: activeUsers (5 minutes), playingNow (60 seconds),
// lastHour (the current minute and the 59 before), per creator and platform-wide. The clock is a
// run-specific hour in 2020, so nothing else written to Redis falls inside these windows, and the
// past, never the future: each write trims the shared platform windows up to its clock, so a
// future clock would wipe the stack's live presence (a test must not damage the stack it runs on).
// Listener names are per run, so entries of earlier runs (sorted sets keep the later time) never
// count.
import { assertEquals } from "../_support/assert.ts";
import { assert } from "../_support/assert.ts";
import { creatorWithMashups, redis, type TestEvent, track } from "../_support/realtime.ts";
import { keys, readRealtime } from "../../functions/_shared/realtime.ts";

const HOUR = 3_600_000;
const S = 1000;
const M = 60 * S;
// A minute boundary plus 30 s, in an hour no earlier run of this test used.
const T = Date.UTC(2020, 0, 1) + (Math.floor(Date.now() / 1000) % 15_000) * 3 * HOUR + 30 * S; // 2020 to 2025
const RUN = crypto.randomUUID().slice(0, 8);
const minuteStart = (t: number) => Math.floor(t / M) * M;

Deno.test("realtime windows per creator and platform-wide, with a controlled clock", async () => {
  const a = await creatorWithMashups("rt-win-a", 2);
  const b = await creatorWithMashups("rt-win-b", 1);
  const [ma1, ma2] = a.mashups;
  const [mb1] = b.mashups;
  const firstMinuteIn = minuteStart(T) - 59 * M; // the oldest minute still in lastHour

  const events: TestEvent[] = [
    { type: "mashup_played", mashupId: ma1, listener: "L1", at: T - 10 * S },
    { type: "mashup_liked", mashupId: ma2, listener: "L2", at: T - 299 * S },
    { type: "mashup_played", mashupId: ma1, listener: "L3", at: T - 301 * S }, // not active any more
    { type: "mashup_play_progress", mashupId: ma1, listener: "L4", at: T - 30 * S },
    { type: "mashup_liked", mashupId: ma1, listener: "L5", at: T + HOUR }, // client clock ahead: counts as now
    { type: "mashup_play_progress", mashupId: ma1, listener: "L7", at: T - 61 * S }, // active, not playing
    { type: "mashup_played", mashupId: ma2, listener: "L8", at: T - 59 * S },
    { type: "user_followed", creatorId: a.id, listener: "L10", at: T - 100 * S },
    { type: "mashup_played", mashupId: mb1, listener: "L6", at: T - 5 * S },
    { type: "mashup_played", mashupId: mb1, listener: "L1", at: T - 20 * S },
    { type: "subscription_upgraded", listener: "L9", at: T - 1 * S }, // platform only
    // lastHour edges: in, in, out, out
    { type: "mashup_played", mashupId: ma2, listener: "P1", at: T - 59 * M },
    { type: "mashup_played", mashupId: ma2, listener: "P3", at: firstMinuteIn },
    { type: "mashup_played", mashupId: ma2, listener: "P4", at: firstMinuteIn - 1 },
    { type: "mashup_played", mashupId: ma2, listener: "P2", at: T - 60 * M - 30 * S },
    { type: "mashup_liked", mashupId: ma1, listener: "P5", at: T - 2 * HOUR },
  ];
  for (const e of events) e.listener = `${RUN}-${e.listener}`;
  // Someone listening right now on the stack, recorded at the real clock.
  const live = await creatorWithMashups("rt-win-live", 1);
  await track([{ type: "mashup_played", mashupId: live.mashups[0], listener: `${RUN}-live`, at: Date.now() }]);

  // Two batches, the second recorded later, as the track function would.
  await track(events.slice(0, 8), T);
  await track(events.slice(8), T);
  assert(
    (await redis.zscore(keys.active("platform"), `a:${RUN}-live`)) !== null,
    "the live listener is still in the platform's presence after writes at the test clock",
  );
  assert((await redis.zscore(keys.playingIndex("platform"), live.mashups[0])) !== null, "and still playing");

  const atT = (scope: Parameters<typeof readRealtime>[0], now = T) => readRealtime(scope, { now, redis });
  const byId = (x: { mashupId: string }, y: { mashupId: string }) => (x.mashupId < y.mashupId ? -1 : 1);

  assertEquals(await atT({ creatorId: a.id }), {
    activeUsers: 7, // L1 L2 L4 L5 L7 L8 L10
    playingNow: [{ mashupId: ma1, listeners: 2 }, { mashupId: ma2, listeners: 1 }],
    lastHour: { plays: 5, likes: 2 }, // L1 L3 L8 P1 P3; L2 L5
  });
  assertEquals(await atT({ creatorId: b.id }), {
    activeUsers: 2, // L6 L1
    playingNow: [{ mashupId: mb1, listeners: 2 }],
    lastHour: { plays: 2, likes: 0 },
  });
  assertEquals(await atT("platform"), {
    activeUsers: 9, // A's 7, L6, L9 (L1 once)
    playingNow: [...[{ mashupId: ma1, listeners: 2 }, { mashupId: mb1, listeners: 2 }].sort(byId), {
      mashupId: ma2,
      listeners: 1,
    }],
    lastHour: { plays: 7, likes: 2 },
  });

  // 5-minute edge: L2 (T - 299 s) is active until T + 1 s exclusive.
  assertEquals((await atT({ creatorId: a.id }, T + 999)).activeUsers, 7);
  assertEquals((await atT({ creatorId: a.id }, T + 1 * S)).activeUsers, 6);
  // 60-second edge: L1 on ma1 (T - 10 s) plays until T + 50 s exclusive; L4 (T - 30 s) until T + 30 s.
  assertEquals((await atT({ creatorId: a.id }, T + 29 * S)).playingNow, [{ mashupId: ma1, listeners: 2 }]);
  assertEquals((await atT({ creatorId: a.id }, T + 30 * S)).playingNow, [{ mashupId: ma1, listeners: 1 }]);
  assertEquals((await atT({ creatorId: a.id }, T + 50 * S)).playingNow, []);
  // Platform-wide 2 s later: ma2's only listener (T - 59 s) has dropped out.
  assertEquals(
    (await atT("platform", T + 2 * S)).playingNow,
    [{ mashupId: ma1, listeners: 2 }, { mashupId: mb1, listeners: 2 }].sort(byId),
  );
  // lastHour edge: one minute later the minute of P1 and P3 leaves the window.
  assertEquals((await atT({ creatorId: a.id }, minuteStart(T) + M)).lastHour, { plays: 3, likes: 2 });
  // limit: busiest first, cut.
  assertEquals((await readRealtime("platform", { now: T, redis, limit: 1 })).playingNow.length, 1);
  // Without `now`, the clock is ANALYTICS_NOW when set (what the Edge Functions get).
  Deno.env.set("ANALYTICS_NOW", new Date(T + 30 * S).toISOString());
  try {
    assertEquals((await readRealtime({ creatorId: a.id }, { redis })).playingNow, [{ mashupId: ma1, listeners: 1 }]);
  } finally {
    Deno.env.delete("ANALYTICS_NOW");
  }
  // A creator with nothing going on.
  const idle = await creatorWithMashups("rt-win-idle", 1);
  assertEquals(await atT({ creatorId: idle.id }), {
    activeUsers: 0,
    playingNow: [],
    lastHour: { plays: 0, likes: 0 },
  });
});

Deno.test("the live windows' trims and TTLs (docs/realtime.md): 5 min / 10 min, 60 s / 2 min, buckets 2 h", async () => {
  const c = await creatorWithMashups("rt-win-ttl", 1);
  const [m] = c.mashups;
  const scope = { creatorId: c.id };
  const t0 = T + 7 * 24 * HOUR; // a week after the other test's clock: nothing else here
  await track([{ type: "mashup_played", mashupId: m, listener: `${RUN}-X`, at: t0 }], t0);

  const pttl = async (k: string) => Number(await redis.pttl(k));
  const within = (ms: number, max: number) => ms > max - 15_000 && ms <= max;
  assert(within(await pttl(keys.active(scope)), 10 * M), "presence set: TTL 10 min");
  assert(within(await pttl(keys.playingIndex(scope)), 2 * M), "playing index: TTL 2 min");
  assert(within(await pttl(keys.playing(m)), 2 * M), "a mashup's listeners: TTL 2 min");
  assert(within(await pttl(keys.minute(scope, Math.floor(t0 / M))), 2 * HOUR), "minute bucket: TTL 2 h");

  // 61 s later a new listener: X's play is trimmed from the mashup's playing set, not from presence.
  await track([{ type: "mashup_played", mashupId: m, listener: `${RUN}-Y`, at: t0 + 61 * S }], t0 + 61 * S);
  assertEquals(await redis.zrange(keys.playing(m), 0, -1), [`a:${RUN}-Y`]);
  assertEquals((await redis.zrange<string[]>(keys.active(scope), 0, -1)).sort(), [`a:${RUN}-X`, `a:${RUN}-Y`]);
  // 5 min after X: X is trimmed from presence on the next write.
  await track([{ type: "mashup_liked", mashupId: m, listener: `${RUN}-Z`, at: t0 + 5 * M }], t0 + 5 * M);
  assertEquals((await redis.zrange<string[]>(keys.active(scope), 0, -1)).sort(), [`a:${RUN}-Y`, `a:${RUN}-Z`]);
});
