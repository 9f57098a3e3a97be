// The sync from Redis to Postgres against the running stack: concurrent writers while syncs run,
// a sync that dies between reading Redis and committing, Redis flushed, drift repaired, and who
// may run it. Every expected number is counted from the events the test itself sent.
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { Redis } from "@upstash/redis";
import { ANON_KEY, anonClient, API_URL, DEMO_TOKEN, SERVICE_KEY, userClient } from "../_support/env.ts";
import { sql } from "../_support/db.ts";
import {
  creatorWithMashups,
  followersOf,
  rawCountsOf,
  redis,
  service,
  type TestEvent,
  storeRaw,
  type Totals,
  totalsOf,
  track,
} from "../_support/realtime.ts";
import {
  applyBatchToDatabase,
  BATCHES,
  EPOCH,
  LOCK,
  moveDirtyToPending,
  pendingKey,
  reconcileRealtime,
  syncRealtime,
} from "../../functions/_shared/realtime_sync.ts";
import { keys, PLATFORM_RECENT, readRealtime, recordRealtime } from "../../functions/_shared/realtime.ts";
import { track as trackFunction, validEvent, validProperties } from "../_support/track.ts";
import type { EventType } from "../../types/events.ts";

const COUNTED: Record<string, keyof Totals[string]> = {
  mashup_played: "plays",
  mashup_liked: "likes",
  mashup_shared: "shares",
  comment_posted: "comments",
  mashup_exported: "downloads",
  ai_reaction: "reactions",
};
const TYPES = [...Object.keys(COUNTED), "mashup_play_progress", "user_followed"];

function emptyTotals(ids: string[]): Totals {
  return Object.fromEntries(
    ids.map((id) => [id, { plays: 0, likes: 0, shares: 0, comments: 0, downloads: 0, reactions: 0 }]),
  );
}

async function invokeSync(token: string | null, body: unknown = {}) {
  const res = await fetch(`${API_URL}/functions/v1/realtime-sync`, {
    method: "POST",
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("several writers incrementing while syncs run: Postgres totals equal the increments exactly", async () => {
  const c = await creatorWithMashups("rt-concurrent", 3);
  const expected = emptyTotals(c.mashups);
  let follows = 0;
  let done = false;

  let syncs = 0;
  let functionSyncs = 0;
  let movedDuringWrites = 0;
  // The writes must overlap the syncs, whatever the machine's speed: writer 0 lets batches 10 and
  // 20 wait until 1 and 2 batches have been moved, and its finish until 3 have been and a sync ran
  // through the function. Each wait is reachable (the events it just tracked must be moved by a run
  // that ends while the writers are still writing, and the syncers loop until they are done), so
  // only a sync that moves nothing or fails can time it out.
  const syncsReached = async (moves: number, throughFunction = 0) => {
    const deadline = Date.now() + 60_000;
    while (movedDuringWrites < moves || functionSyncs < throughFunction || syncs < 4 * throughFunction) {
      assert(Date.now() < deadline, `the syncs did not progress while the writes waited (moved ${movedDuringWrites})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const writer = async (w: number) => {
    for (let b = 0; b < 30; b++) {
      if (w === 0 && b > 0 && b % 10 === 0) await syncsReached(b / 10);
      const batch: TestEvent[] = [];
      for (let i = 0; i < 1 + ((w * 7 + b * 3) % 9); i++) {
        const type = TYPES[(w + b + i) % TYPES.length];
        const mashupId = c.mashups[(w + i) % c.mashups.length];
        if (type === "user_followed") follows++;
        else if (COUNTED[type]) expected[mashupId][COUNTED[type]]++;
        batch.push({
          type,
          mashupId: type === "user_followed" ? null : mashupId,
          creatorId: type === "user_followed" ? c.id : undefined,
          listener: `w${w}-l${i}`,
          at: Date.now(),
        });
      }
      await track(batch);
    }
    if (w === 0) await syncsReached(3, 1);
  };
  const syncer = async () => {
    while (!done) {
      if (syncs % 4 === 3) {
        const r = await invokeSync(SERVICE_KEY);
        assertEquals(r.status, 200, JSON.stringify(r.body));
        functionSyncs++;
        if (!done) movedDuringWrites += r.body.sync.batches;
      } else {
        // Small batches: many move/apply rounds while the writers are still writing.
        const r = await syncRealtime(redis, service, { batchSize: 7 });
        if (!done) movedDuringWrites += r.batches;
      }
      syncs++;
    }
  };
  const writers = Promise.all([0, 1, 2, 3, 4].map(writer)).finally(() => (done = true));
  await Promise.all([writers, syncer(), syncer()]);
  await syncRealtime(redis, service);

  assert(
    syncs >= 4 && functionSyncs >= 1,
    `syncs ran during the writes (${syncs}, ${functionSyncs} through the function)`,
  );
  assert(movedDuringWrites >= 3, `batches were moved while increments kept arriving (${movedDuringWrites})`);
  assertEquals(await totalsOf(c.mashups), expected, "totals = increments sent");
  assertEquals(await rawCountsOf(c.mashups), expected, "and = the raw events");
  assertEquals(await followersOf(c.id), follows);
  for (const id of c.mashups) assertEquals(await redis.zscore(PLATFORM_RECENT, `d|mashup:${id}:plays`), null);
});

Deno.test("a sync that dies after reading Redis and before committing, run again, gives exact totals", async () => {
  const c = await creatorWithMashups("rt-crash", 1);
  const [m] = c.mashups;
  const now = Date.now();
  const ev = (type: string, i: number): TestEvent => ({ type, mashupId: m, listener: `l${i}`, at: now });

  await track(
    [...Array(7)].map((_, i) => ev("mashup_played", i)).concat([0, 1, 2].map((i) => ev("mashup_liked", i))),
  );
  // The crash: the deltas are moved out of the counters into a pending batch, never applied.
  const moved = await moveDirtyToPending(redis);
  assert(moved && moved !== "locked");
  assertEquals(moved.deltas[`mashup:${m}:plays`], 7);
  assertEquals(await redis.exists(`mashup:${m}:plays`), 0, "the counter itself was emptied");
  assertEquals((await totalsOf([m]))[m].plays, 0, "nothing committed yet");
  // Increments keep arriving in the meantime.
  await track([10, 11, 12, 13, 14].map((i) => ev("mashup_played", i)));

  const report = await syncRealtime(redis, service);
  assert(report.recoveredBatches >= 1, "the next run applies the leftover batch first");
  assertEquals((await totalsOf([m]))[m], {
    plays: 12,
    likes: 3,
    shares: 0,
    comments: 0,
    downloads: 0,
    reactions: 0,
  });

  // Dying after the commit and before forgetting the batch: the re-apply is a no-op.
  await track([20, 21, 22, 23].map((i) => ev("mashup_played", i)));
  const second = await moveDirtyToPending(redis);
  assert(second && second !== "locked");
  assertEquals((await applyBatchToDatabase(service, second)).applied, true);
  assertEquals(
    await redis.zscore(BATCHES, second.batchId) !== null,
    true,
    "the batch is still listed in Redis",
  );
  await syncRealtime(redis, service);
  assertEquals(
    (await applyBatchToDatabase(service, second)).applied,
    false,
    "the same batch id applies nothing",
  );
  assertEquals(await redis.exists(pendingKey(second.batchId)), 0);
  assertEquals((await totalsOf([m]))[m].plays, 16);
  assertEquals(await rawCountsOf([m]), await totalsOf([m]));
});

/**
 * What Redis losing its data looks like to one creator, without flushing the stack's shared Redis:
 * every key of the creator and its mashups goes, with `rt:epoch` (whose absence is how a sync
 * learns of a loss). The recovery that follows rebuilds everything from Postgres; for the keys
 * left in place that rebuild changes nothing, so the rest of the stack is as it was.
 */
async function loseRedisDataOf(ids: string[]) {
  for (const id of ids) {
    let cursor: string | number = 0;
    do {
      const [next, found]: [string | number, string[]] = await redis.scan(cursor, { match: `*${id}*`, count: 1000 });
      if (found.length > 0) await redis.del(...found);
      cursor = next;
    } while (String(cursor) !== "0");
  }
  await redis.del(EPOCH);
}

Deno.test("Redis data lost: counters rebuilt from Postgres, realtime windows from recent raw events", async () => {
  const c = await creatorWithMashups("rt-flush", 2);
  const [m1, m2] = c.mashups;
  const now = Date.now();
  await track([0, 1, 2, 3].map((i) => ({ type: "mashup_played", mashupId: m1, listener: `f${i}`, at: now - 4 * 60_000 })));
  await syncRealtime(redis, service);
  await track([
    ...[4, 5, 6].map((i) => ({ type: "mashup_played", mashupId: m1, listener: `f${i}`, at: now - 4 * 60_000 })),
    { type: "mashup_liked", mashupId: m2, listener: "f7", at: now - 4 * 60_000 },
    { type: "user_followed", creatorId: c.id, listener: "f8", at: now - 4 * 60_000 },
    // Heartbeats 40 s ago: these listeners are playing now.
    { type: "mashup_play_progress", mashupId: m2, listener: "f1", at: now - 40_000 },
    { type: "mashup_play_progress", mashupId: m2, listener: "f2", at: now - 40_000 },
  ]);
  const before = await readRealtime({ creatorId: c.id }, { redis, now });
  assertEquals((await totalsOf([m1]))[m1].plays, 4, "4 plays synced, 3 only in Redis");

  const untouched = `test:untouched:${crypto.randomUUID()}`;
  await redis.set(untouched, "kept", { ex: 600 });
  await loseRedisDataOf([c.id, ...c.mashups]);
  assertEquals(await redis.exists(EPOCH), 0);
  assertEquals(await redis.exists(`mashup:${m1}:plays`), 0, "the creator's counters are gone");

  const r = await invokeSync(SERVICE_KEY);
  assertEquals(r.status, 200, JSON.stringify(r.body));
  assertEquals(r.body.recovery.recovered, true);
  assertEquals(await redis.exists(EPOCH), 1);
  assertEquals(await totalsOf(c.mashups), await rawCountsOf(c.mashups));
  assertEquals((await totalsOf([m1]))[m1].plays, 7);
  assertEquals((await totalsOf([m2]))[m2].likes, 1);
  assertEquals(await followersOf(c.id), 1);
  const [drift] = await sql<{ repaired: string; expected: string; counted: string }[]>`
    select repaired, expected, counted from public.realtime_drift
    where subject_id = ${m1} and counter = 'plays' order by id desc limit 1`;
  assertEquals(
    [Number(drift.repaired), Number(drift.expected), Number(drift.counted)],
    [3, 7, 4],
    "the drift is recorded",
  );

  const after = await readRealtime({ creatorId: c.id }, { redis, now });
  assertEquals(after, before, "the creator's realtime view is the same as before the flush");
  assertEquals(after.activeUsers, 9);
  assertEquals(after.playingNow, [{ mashupId: m2, listeners: 2 }]);
  assertEquals(after.lastHour, { plays: 7, likes: 1 });

  const again = await invokeSync(SERVICE_KEY);
  assertEquals(again.body.recovery.recovered, false, "recovery runs once per loss");
  assertEquals(await redis.get(untouched), "kept", "the rest of Redis was left alone");
  await redis.del(untouched);
});

Deno.test("reconciliation repairs every drift exactly, in-flight increments included, and refuses them late", async () => {
  const c = await creatorWithMashups("rt-reconcile", 3);
  const [counted, lost, inFlight] = c.mashups;
  const now = Date.now();
  await track([0, 1, 2].map((i) => ({ type: "mashup_played", mashupId: counted, listener: `r${i}`, at: now })));
  await syncRealtime(redis, service);
  // Drift: a total bumped by hand (counted twice), an event stored while Redis was down (never
  // counted), and an event stored a moment ago whose increment is still on its way.
  await sql`update public.mashup_realtime_totals set plays = plays + 5 where mashup_id = ${counted}`;
  const [lostEvent, lateEvent] = await storeRaw([
    { type: "mashup_liked", mashupId: lost, listener: "r9", at: now },
    { type: "mashup_liked", mashupId: inFlight, listener: "r10", at: now },
  ]);
  // The first one's increment met a Redis that was down: recordRealtime throws, the event stays.
  const deadRedis = new Redis({ url: "http://127.0.0.1:9", token: "x", retry: false });
  const realtimeEvent = (e: typeof lostEvent, mashupId: string, listener: string) => ({
    id: e.id,
    receivedAtUs: e.receivedAtUs,
    type: "mashup_liked",
    mashupId,
    listenerKey: `a:${listener}`,
    timestamp: new Date(now).toISOString(),
    properties: e.properties,
  });
  await assertRejects(() => recordRealtime([realtimeEvent(lostEvent, lost, "r9")], deadRedis), Error);

  const report = await reconcileRealtime(redis, service, { reason: "test" });
  assert(typeof report === "object", String(report));
  const t = await totalsOf(c.mashups);
  assertEquals([t[counted].plays, t[lost].likes, t[inFlight].likes], [3, 1, 1], "exact right away");
  const drift = await sql<
    { subject_id: string; counter: string; expected: string; counted: string; repaired: string }[]
  >`
    select subject_id, counter, expected, counted, repaired from public.realtime_drift
    where run_id = ${report.run_id} and subject_id = any(${c.mashups}::uuid[]) order by repaired, subject_id`;
  assertEquals(
    drift.map((d) => [d.subject_id, d.counter, +d.expected, +d.counted, +d.repaired]),
    [
      [counted, "plays", 3, 8, -5],
      ...[[lost, "likes", 1, 0, 1], [inFlight, "likes", 1, 0, 1]].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
    ],
  );

  // The in-flight increment arrives after all: refused (the reconciliation counted its event).
  assertEquals(await recordRealtime([realtimeEvent(lateEvent, inFlight, "r10")], redis), { refused: 1 });
  assertEquals(await redis.get(keys.mashupCounter(inFlight, "likes")), null);
  // Its windows count it all the same (the lost like is in Postgres only: repaired by the sync).
  assertEquals((await readRealtime({ creatorId: c.id }, { redis, now })).lastHour.likes, 1);
  // A new event is counted as usual.
  await track([{ type: "mashup_liked", mashupId: inFlight, listener: "r11", at: now }]);
  await syncRealtime(redis, service);
  assertEquals(await totalsOf(c.mashups), await rawCountsOf(c.mashups));
  const later = await reconcileRealtime(redis, service, { reason: "test" });
  assert(typeof later === "object");
  const [{ n }] = await sql<{ n: string }[]>`select count(*) as n from public.realtime_drift
    where run_id = ${later.run_id} and subject_id = any(${c.mashups}::uuid[])`;
  assertEquals(Number(n), 0, "nothing left to repair");
});

/** A creator with one mashup, an erased and a kept anonymous listener, their events, and the
 * creator's live totals of that mashup as [mashup, plays, likes] (the RLS-checked RPC). */
async function erasureFixture(label: string) {
  const c = await creatorWithMashups(label, 1);
  const [m] = c.mashups;
  const erased = `anon-test-erase-${crypto.randomUUID().slice(0, 8)}`;
  const kept = `anon-test-keep-${crypto.randomUUID().slice(0, 8)}`;
  const on = (type: EventType, anonymousId: string) =>
    validEvent(type, {
      anonymous_id: anonymousId,
      properties: validProperties(type, { mashup: m, play: crypto.randomUUID(), creator: c.id }),
    });
  const totals = async () => {
    const { data, error } = await userClient(c.token).rpc("realtime_totals");
    assertEquals(error, null);
    return data!.map((r) => [r.mashup_id, r.plays, r.likes]);
  };
  return { c, m, erased, kept, on, totals };
}

Deno.test("an erased listener's events stay counted in the live totals through the hourly reconciliation", async () => {
  const { m, erased, kept, on, totals } = await erasureFixture("rt-erased");
  const sent = await trackFunction({
    events: [
      on("mashup_played", erased),
      on("mashup_played", erased),
      on("mashup_liked", erased),
      on("mashup_played", kept),
    ],
  });
  assertEquals([sent.status, sent.body.accepted], [200, 4]);
  assertEquals((await invokeSync(SERVICE_KEY)).status, 200);
  assertEquals(await totals(), [[m, 3, 1]], "the creator sees the synced totals");
  // The fold counts them, as its job does within the minute (events erased still queued count
  // nowhere: the next test).
  await sql`select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true)`;

  const erasure = await service.rpc("erase_listener", { p_anonymous_id: erased });
  assertEquals([erasure.error, (erasure.data as { events_deleted: number }).events_deleted], [null, 3]);
  const reconciled = await invokeSync(SERVICE_KEY, { reconcile: true });
  assertEquals(reconciled.status, 200);
  assertEquals(await totals(), [[m, 3, 1]], "the reconciliation keeps the erased listener's counted events");
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from public.realtime_drift
    where run_id = ${reconciled.body.reconcile.run_id} and subject_id = ${m}`;
  assertEquals(n, 0, "and finds nothing to repair");
});

Deno.test("events erased while still queued for the fold leave the live totals at the next reconciliation, as the days never count them", async () => {
  const { m, erased, kept, on, totals } = await erasureFixture("rt-erased-queued");
  // The fold's job takes only events older than 30 s (run_incremental's lag), so events sent just now
  // are still queued when the erasure comes; the aggregation lock keeps its job off while the test
  // checks that they are (the erasure itself waits for that lock, so it comes after).
  const lock = await sql.reserve();
  try {
    await lock`begin`;
    await lock`select aggregation.lock(true)`;
    const sent = await trackFunction({
      events: [on("mashup_played", erased), on("mashup_played", erased), on("mashup_liked", erased), on("mashup_played", kept)],
    });
    assertEquals([sent.status, sent.body.accepted], [200, 4]);
    assertEquals((await invokeSync(SERVICE_KEY)).status, 200);
    assertEquals(await totals(), [[m, 3, 1]], "the live totals count all four on receipt");
    const [{ queued }] = await sql<{ queued: number }[]>`select count(*)::int as queued from aggregation.pending_events
      where listener_key = ${`a:${erased}`}`;
    assertEquals(queued, 3, "the erased listener's events are still queued");
  } finally {
    await lock`rollback`.catch(() => {});
    lock.release();
  }
  const erasure = await service.rpc("erase_listener", { p_anonymous_id: erased });
  assertEquals([erasure.error, (erasure.data as { events_deleted: number }).events_deleted], [null, 3]);
  await sql`select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true)`;
  const reconciled = await invokeSync(SERVICE_KEY, { reconcile: true });
  assertEquals(reconciled.status, 200);
  const repaired = await sql<{ counter: string; repaired: number }[]>`select counter, repaired::int from public.realtime_drift
    where run_id = ${reconciled.body.reconcile.run_id} and subject_id = ${m} order by counter`;
  assertEquals([...repaired], [{ counter: "likes", repaired: -1 }, { counter: "plays", repaired: -2 }]);
  assertEquals(await totals(), [[m, 1, 0]], "the live totals keep the kept listener's play only");
  const [days] = await sql<{ plays: number; likes: number }[]>`select coalesce(sum(plays), 0)::int as plays,
    coalesce(sum(likes), 0)::int as likes from public.mashup_daily_stats where mashup_id = ${m}`;
  assertEquals(days, { plays: 1, likes: 0 }, "as many as the days count");
});

Deno.test("an erasure while a fold is running waits for it: what the fold counts stays counted, live and daily", async () => {
  const { m, erased, kept, on, totals } = await erasureFixture("rt-erased-race");
  const sent = await trackFunction({
    events: [
      ...[1, 2, 3].map(() => on("mashup_played", kept)),
      ...[1, 2, 3, 4, 5].map(() => on("mashup_played", erased)),
      on("mashup_liked", erased),
      on("mashup_liked", erased),
    ],
  });
  assertEquals([sent.status, sent.body.accepted], [200, 10]);
  assertEquals((await invokeSync(SERVICE_KEY)).status, 200);

  // A fold has taken the events out of the queue and counted them, and has not committed yet (an
  // outside audit erased in that window: the erasure saw them queued, the fold's commit counted them,
  // and live and daily numbers disagreed for good).
  const fold = await sql.reserve();
  let erasure: Promise<{ error: unknown; data: unknown }> | undefined;
  try {
    await fold`begin`;
    await fold`select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true)`;
    erasure = (async () => await service.rpc("erase_listener", { p_anonymous_id: erased }))();
    const early = await Promise.race([erasure.then(() => "returned"), new Promise((r) => setTimeout(() => r("waiting"), 1000))]);
    assertEquals(early, "waiting", "the erasure waits for the running fold");
    await fold`commit`;
  } finally {
    await fold`rollback`.catch(() => {});
    fold.release();
  }
  const { error, data } = await erasure!;
  const result = data as { events_deleted: number; listener_rows_anonymised: number };
  assertEquals([error, result.events_deleted, result.listener_rows_anonymised], [null, 7, 1],
    "it deletes the seven events and anonymises the listener key the fold wrote");

  await sql`select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true)`;
  const reconciled = await invokeSync(SERVICE_KEY, { reconcile: true });
  assertEquals(reconciled.status, 200);
  const repaired = await sql`select counter from public.realtime_drift
    where run_id = ${reconciled.body.reconcile.run_id} and subject_id = ${m}`;
  assertEquals([...repaired], [], "the reconciliation has nothing to repair");
  assertEquals(await totals(), [[m, 8, 2]], "the live totals keep what the fold counted");
  const [days] = await sql<{ plays: number; likes: number }[]>`select coalesce(sum(plays), 0)::int as plays,
    coalesce(sum(likes), 0)::int as likes from public.mashup_daily_stats where mashup_id = ${m}`;
  assertEquals(days, { plays: 8, likes: 2 }, "and so do the days");
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from aggregation.erased_days
    where mashup_id = ${m} and day = (now() at time zone 'UTC')::date`;
  assertEquals(n, 1, "the day and mashup whose counts are kept are recorded");
});

Deno.test("an erased listener leaves the live windows at the next sync run, and no one else does", async () => {
  const c = await creatorWithMashups("rt-erased-live", 1);
  const [m] = c.mashups;
  const erased = `anon-test-erase-${crypto.randomUUID().slice(0, 8)}`;
  const kept = `anon-test-keep-${crypto.randomUUID().slice(0, 8)}`;
  const play = (anonymousId: string) =>
    validEvent("mashup_played", {
      anonymous_id: anonymousId,
      properties: validProperties("mashup_played", { mashup: m, play: crypto.randomUUID(), creator: c.id }),
    });
  assertEquals((await trackFunction({ events: [play(erased), play(kept)] })).status, 200);
  assertEquals((await invokeSync(SERVICE_KEY)).status, 200);
  const members = async (key: string) => (await redis.zrange(key, 0, -1) as string[]).filter((x) => x.includes("anon-test-"));
  const named = (list: string[], id: string) => list.filter((x) => x.includes(id)).length;
  const creatorKey = keys.recent({ creatorId: c.id });
  assert(named(await members(creatorKey), erased) >= 2, "the erased listener is live before the erasure (a| and p|)");

  const erasure = await service.rpc("erase_listener", { p_anonymous_id: erased });
  assertEquals(erasure.error, null);
  const synced = await invokeSync(SERVICE_KEY);
  assertEquals(synced.status, 200);
  assert(synced.body.erasures.rebuilt >= 2, JSON.stringify(synced.body.erasures));
  for (const key of [creatorKey, PLATFORM_RECENT]) {
    const left = await members(key);
    assertEquals(named(left, erased), 0, `${key} keeps nothing of the erased listener`);
    assert(named(left, kept) >= 2, `${key} keeps the other listener`);
  }
  const live = await readRealtime({ creatorId: c.id }, { redis });
  assertEquals([live.activeUsers, live.lastHour.plays], [1, 1], "the creator's live numbers count the kept listener only");
  assertEquals((await invokeSync(SERVICE_KEY)).body.erasures.rebuilt, 0, "the next run rebuilds nothing");
});

Deno.test("upgrade: counters marked in the old rt:dirty set are still synced, exactly once", async () => {
  const c = await creatorWithMashups("rt-legacy", 1);
  const [m] = c.mashups;
  // What the recording before this version left behind: a delta and its key in rt:dirty.
  await redis.multi().incrby(`mashup:${m}:plays`, 3).sadd("rt:dirty", `mashup:${m}:plays`).exec();
  await track([{ type: "mashup_played", mashupId: m, listener: "legacy-1", at: Date.now() }]); // the new way
  await syncRealtime(redis, service);
  assertEquals((await totalsOf([m]))[m].plays, 4);
  assertEquals(await redis.sismember("rt:dirty", `mashup:${m}:plays`), 0);
  await syncRealtime(redis, service);
  assertEquals((await totalsOf([m]))[m].plays, 4, "not applied twice");
});

Deno.test("sync:lock held (a reconciliation running): no counter is moved until it is released", async () => {
  const c = await creatorWithMashups("rt-lock", 1);
  const [m] = c.mashups;
  await track([{ type: "mashup_played", mashupId: m, listener: "k1", at: Date.now() }]);
  const token = `test-${crypto.randomUUID()}`;
  let held = false;
  for (let i = 0; i < 100 && !held; i++) {
    held = (await redis.set(LOCK, token, { nx: true, px: 30_000 })) === "OK"; // a real reconciliation may hold it
    if (!held) await new Promise((r) => setTimeout(r, 100));
  }
  assert(held, "took sync:lock");
  try {
    const report = await syncRealtime(redis, service);
    assertEquals(report.locked, true);
    assertEquals((await totalsOf([m]))[m].plays, 0, "nothing moved while the lock is held");
    assertEquals(Number(await redis.get(`mashup:${m}:plays`)), 1, "the increment waits in Redis");
  } finally {
    if ((await redis.get(LOCK)) === token) await redis.del(LOCK);
  }
  const after = await syncRealtime(redis, service);
  assertEquals(after.locked, false);
  assertEquals((await totalsOf([m]))[m].plays, 1, "moved once the lock is gone");
});

Deno.test("realtime-sync runs for the service role only", async () => {
  assertEquals((await invokeSync(null)).status, 401);
  const anon = await invokeSync(ANON_KEY);
  assertEquals([anon.status, anon.body.field], [403, "authorization"]);
  const creator = await invokeSync(DEMO_TOKEN);
  assertEquals([creator.status, creator.body.field], [403, "authorization"]);
  const bad = await invokeSync(SERVICE_KEY, { reconcile: "yes" });
  assertEquals([bad.status, bad.body.field], [400, "reconcile"]);
  const ok = await invokeSync(SERVICE_KEY, { reconcile: true });
  assertEquals(ok.status, 200, JSON.stringify(ok.body));
  assertEquals(typeof ok.body.reconcile.run_id, "string");
  // Nobody but the service role may call the SQL behind it either.
  const rpc = await userClient(DEMO_TOKEN).rpc("update_realtime_stats", { p_batch_id: "x", p_deltas: {} });
  assertEquals(rpc.error?.code, "42501");
});

Deno.test("the running totals are readable through RPC under RLS: own mashups only, anon nothing", async () => {
  const a = await creatorWithMashups("rt-rls-a", 2);
  const b = await creatorWithMashups("rt-rls-b", 1);
  await track(
    [...a.mashups, ...b.mashups].map((m, i) => ({
      type: "mashup_played",
      mashupId: m,
      listener: `x${i}`,
      at: Date.now(),
    })),
  );
  await syncRealtime(redis, service);

  const asA = await userClient(a.token).rpc("realtime_totals");
  assertEquals(asA.error, null);
  assertEquals(asA.data!.map((r) => r.mashup_id).sort(), [...a.mashups].sort());
  assert(asA.data!.every((r) => r.plays === 1));
  const narrowed = await userClient(b.token).rpc("realtime_totals", {
    p_mashup_ids: [a.mashups[0], b.mashups[0]],
  });
  assertEquals(
    narrowed.data!.map((r) => r.mashup_id),
    b.mashups,
    "B asking for A's mashup gets only its own",
  );
  const anon = await anonClient().rpc("realtime_totals");
  assertEquals(anon.data, []);
  const all = await service.rpc("realtime_totals", { p_mashup_ids: [...a.mashups, ...b.mashups] });
  assertEquals(all.data!.length, 3, "the service role reads every creator's");
});
