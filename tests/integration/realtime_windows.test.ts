// The realtime windows with a controlled clock: activeUsers (5 minutes), playingNow (60 seconds),
// lastHour (the hour up to now, to the millisecond), per creator and platform-wide. The clock is a
// run-specific hour in 2020-2025, so nothing else written to Redis falls inside these windows, and
// the past, never the future: what a test writes at a past clock is trimmed by the next sync, while
// a future clock's members would stay until then. Listener names are per run, so entries of
// earlier runs (sorted sets keep the later time) never count. The stack's scheduler trims the
// windows on the wall clock every five minutes, which would take these past members away: each
// test starts where no scheduled run falls inside it (a test takes a few seconds).
import { assertEquals } from "../_support/assert.ts";
import { assert } from "../_support/assert.ts";
import { creatorWithMashups, redis, service, type TestEvent, track } from "../_support/realtime.ts";
import { keys, readRealtime } from "../../functions/_shared/realtime.ts";
import { repairRealtimeWindows } from "../../functions/_shared/realtime_sync.ts";
import { clearOfTheScheduler } from "../_support/scheduler.ts";

const HOUR = 3_600_000;
const S = 1000;
const M = 60 * S;
// A minute boundary plus 30 s, in an hour no earlier run of this test used.
const T = Date.UTC(2020, 0, 1) + (Math.floor(Date.now() / 1000) % 15_000) * 3 * HOUR + 30 * S; // 2020 to 2025
const RUN = crypto.randomUUID().slice(0, 8);
const minuteStart = (t: number) => Math.floor(t / M) * M;

Deno.test("realtime windows per creator and platform-wide, with a controlled clock", async () => {
  await clearOfTheScheduler(10_000);
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
    // lastHour edges: in, in, in (until T + 29.999 s), out, out
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
  const platformSet = keys.recent("platform");
  assert(
    (await redis.zscore(platformSet, `a|a:${RUN}-live`)) !== null,
    "the live listener is still in the platform's presence after writes at the test clock",
  );
  assert((await redis.zscore(platformSet, `p|${live.mashups[0]}|a:${RUN}-live`)) !== null, "and still playing");

  const atT = (scope: Parameters<typeof readRealtime>[0], now = T) => readRealtime(scope, { now, redis });
  const byId = (x: { mashupId: string }, y: { mashupId: string }) => (x.mashupId < y.mashupId ? -1 : 1);

  assertEquals(await atT({ creatorId: a.id }), {
    activeUsers: 7, // L1 L2 L4 L5 L7 L8 L10
    playingNow: [{ mashupId: ma1, listeners: 2 }, { mashupId: ma2, listeners: 1 }],
    lastHour: { plays: 6, likes: 2 }, // L1 L3 L8 P1 P3 P4; L2 L5
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
    lastHour: { plays: 8, likes: 2 },
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
  // lastHour edge: P4 (T - 59 min 30.001 s) is in the hour until T + 29.999 s exclusive.
  assertEquals((await atT({ creatorId: a.id }, T + 29_998)).lastHour, { plays: 6, likes: 2 });
  assertEquals((await atT({ creatorId: a.id }, T + 29_999)).lastHour, { plays: 5, likes: 2 });
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

Deno.test("the sync trims the windows: members older than an hour, an idle creator's whole set", async () => {
  await clearOfTheScheduler(10_000);
  const c = await creatorWithMashups("rt-win-trim", 1);
  const [m] = c.mashups;
  const t0 = T + 7 * 24 * HOUR; // a week after the other test's clock: nothing else here
  await track([{ type: "mashup_played", mashupId: m, listener: `${RUN}-X`, at: t0 }], t0);
  await track([{ type: "mashup_liked", mashupId: m, listener: `${RUN}-Y`, at: t0 + 30 * M }], t0 + 30 * M);
  const creatorSet = keys.recent({ creatorId: c.id });
  const platformSet = keys.recent("platform");
  const members = async () => ((await redis.zrange<string[]>(creatorSet, 0, -1)) ?? []).map(String).sort();
  assertEquals((await members()).filter((x) => x.startsWith("a|")), [`a|a:${RUN}-X`, `a|a:${RUN}-Y`]);
  assertEquals(await redis.pttl(creatorSet), -1, "no TTL on write: the sync trims");

  // The sync at t0 + 61 min: X's play (t0) has left every window, Y's like (t0 + 30 min) has not.
  await repairRealtimeWindows(redis, service, t0 + 61 * M);
  const left = await members();
  assertEquals(left.length, 2, left.join(", "));
  assert(left.includes(`a|a:${RUN}-Y`) && left.some((x) => x.startsWith("e|likes|")), left.join(", "));
  assertEquals(await redis.zscore(platformSet, `a|a:${RUN}-X`), null, "trimmed from the platform's set too");
  assertEquals(await redis.zscore(platformSet, `p|${m}|a:${RUN}-X`), null);
  assert((await redis.zscore(platformSet, `a|a:${RUN}-Y`)) !== null);
  // An hour after the creator's last member, the whole set goes, and its entry in the platform's.
  await repairRealtimeWindows(redis, service, t0 + 91 * M);
  assertEquals(await redis.exists(creatorSet), 0);
  assertEquals(await redis.zscore(platformSet, `s|${c.id}`), null);
});
