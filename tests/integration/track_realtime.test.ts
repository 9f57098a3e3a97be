// The plan's Redis counters behind the track function: incremented exactly once per newly stored
// event (never for duplicates or bots), read back with @upstash/redis; and ingestion that keeps
// storing events while redis-server is down.
import { assertEquals } from "../_support/assert.ts";
import { API_URL, ENV, SERVICE_KEY } from "../_support/env.ts";
import { supervisorctl } from "../_support/stack.ts";
import { holdingTheSync } from "../_support/sync_lock.ts";
import {
  mashupCounters,
  redis,
  storedBotEvents,
  storedEvents,
  track,
  UA,
  uuid,
  validEvent,
  validProperties,
} from "../_support/track.ts";

/** A test that reads the counters' values in Redis, with the scheduled sync held off meanwhile. */
function counterTest(name: string, fn: () => Promise<void>) {
  Deno.test(name, () => holdingTheSync(redis, fn));
}

function eventFor(type: Parameters<typeof validProperties>[0], ids: { mashup: string; creator: string }) {
  return validEvent(type, { properties: validProperties(type, { ...ids, play: uuid() }) });
}

counterTest("counters go up exactly once per new event: not for duplicates, retries or other types", async () => {
  const ids = { mashup: uuid(), creator: uuid() };
  const playA = eventFor("mashup_played", ids);
  const playB = eventFor("mashup_played", ids);
  const events = [
    playA,
    playB,
    playA, // repeated within the batch
    eventFor("mashup_liked", ids),
    eventFor("mashup_liked", ids),
    eventFor("mashup_liked", ids),
    eventFor("mashup_shared", ids),
    eventFor("comment_posted", ids),
    eventFor("mashup_exported", ids),
    eventFor("ai_reaction", ids),
    eventFor("user_followed", ids),
    eventFor("mashup_play_progress", ids), // no counter
    eventFor("mashup_created", ids), // no counter
  ];
  assertEquals((await track({ events })).body, { accepted: 12, duplicates: 1, rejected: [], ignored: 0 });
  const expected = { plays: 2, likes: 3, shares: 1, comments: 1, downloads: 1, reactions: 1 };
  assertEquals(await mashupCounters(ids.mashup), expected);
  assertEquals(await redis.get(`creator:${ids.creator}:followers`), 1);

  // The client retries the whole batch: nothing new, nothing counted.
  assertEquals((await track({ events })).body, { accepted: 0, duplicates: 13, rejected: [], ignored: 0 });
  assertEquals(await mashupCounters(ids.mashup), expected);
  assertEquals(await redis.get(`creator:${ids.creator}:followers`), 1);

  // The scheduler's sync, arriving now, moves nothing while the test holds its lock.
  const sync = await fetch(`${API_URL}/functions/v1/realtime-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${SERVICE_KEY}`, "Content-Type": "application/json" },
    body: "{}",
  });
  assertEquals([sync.status, (await sync.json()).sync.locked], [200, true]);
  assertEquals(await mashupCounters(ids.mashup), expected);

  // A refused event counts nowhere either.
  const bad = eventFor("mashup_played", ids);
  (bad.properties as Record<string, unknown>).auto_play = "yes";
  assertEquals((await track({ events: [bad, eventFor("mashup_played", ids)] })).body.accepted, 1);
  assertEquals((await mashupCounters(ids.mashup)).plays, 3);
});

counterTest("a bot User-Agent is counted nowhere: no event, no counter, kept apart", async () => {
  const ids = { mashup: uuid(), creator: uuid() };
  for (const userAgent of [UA.googlebot, UA.headlessChrome]) {
    const play = eventFor("mashup_played", ids);
    const like = eventFor("mashup_liked", ids);
    const res = await track({ events: [play, like] }, { headers: { "User-Agent": userAgent } });
    assertEquals([res.status, res.body], [200, { accepted: 0, duplicates: 0, rejected: [], ignored: 2 }]);
    assertEquals(await storedEvents([play.id, like.id]), [], "not among the analytics events");
    const apart = await storedBotEvents([play.id, like.id]);
    assertEquals(apart.map((b) => [b.event_type, b.user_agent]).sort(), [
      ["mashup_liked", userAgent],
      ["mashup_played", userAgent],
    ]);
  }
  assertEquals(await mashupCounters(ids.mashup), {
    plays: null,
    likes: null,
    shares: null,
    comments: null,
    downloads: null,
    reactions: null,
  });
});

// --- Redis down -----------------------------------------------------------------------------------

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, env: { REDISCLI_AUTH: ENV.REDIS_PASSWORD }, stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}
const redisCli = (...args: string[]) => run("redis-cli", ["-p", ENV.REDIS_PORT, ...args]);

/** Starts redis-server again through the stack's own supervisord, exactly as `npm start` runs it. */
async function startRedisAsTheStackDoes() {
  await supervisorctl("start", "redis");
  for (let i = 0; i < 100 && (await redisCli("ping")) !== "PONG"; i++) await new Promise((r) => setTimeout(r, 100));
  // The local Upstash REST endpoint pools connections; each one opened before the restart fails
  // once and is dropped. Ping through it until one succeeds: by then no stale connection is left.
  for (let i = 0; i < 50; i++) {
    try {
      await redis.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

counterTest("Redis stopped in the middle of a run: events are still stored, counting resumes after", async () => {
  const ids = { mashup: uuid(), creator: uuid() };
  const before = eventFor("mashup_played", ids);
  assertEquals((await track(before)).body.accepted, 1);
  assertEquals((await mashupCounters(ids.mashup)).plays, 1);

  // Stopped the way `npm stop` stops it (SIGTERM: the AOF is flushed, the counters survive).
  await supervisorctl("stop", "redis");
  const during = [eventFor("mashup_played", ids), eventFor("mashup_liked", ids)];
  try {
    assertEquals(await redisCli("ping"), "", "redis-server is down");
    const res = await track({ events: during });
    assertEquals([res.status, res.body], [200, { accepted: 2, duplicates: 0, rejected: [], ignored: 0 }]);
    assertEquals((await storedEvents(during.map((e) => e.id))).length, 2, "stored in Postgres all the same");
  } finally {
    await startRedisAsTheStackDoes();
  }
  assertEquals((await supervisorctl("status", "redis")).split(/\s+/)[1], "RUNNING", "Redis is back under the stack's supervisor");
  assertEquals(await redisCli("config", "get", "appendonly"), "appendonly\nyes", "with the stack's own configuration");

  assertEquals(
    await mashupCounters(ids.mashup),
    {
      plays: 1,
      likes: null,
      shares: null,
      comments: null,
      downloads: null,
      reactions: null,
    },
    "what happened while Redis was down is not counted twice or at all (the sync recovers it from Postgres)",
  );
  const after = eventFor("mashup_played", ids);
  assertEquals((await track(after)).body.accepted, 1);
  assertEquals((await mashupCounters(ids.mashup)).plays, 2, "counting resumes once Redis is back");
});

counterTest("a Redis that hangs delays an answer by at most a second; the late increment still counts once", async () => {
  const ids = { mashup: uuid(), creator: uuid() };
  const play = eventFor("mashup_played", ids);
  assertEquals(await redisCli("client", "pause", "2500", "ALL"), "OK");
  const started = performance.now();
  const res = await track(play);
  const tookMs = performance.now() - started;
  assertEquals(res.body, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 });
  assertEquals(tookMs > 900 && tookMs < 2000, true, `answered after ${Math.round(tookMs)} ms`);
  assertEquals((await storedEvents([play.id])).length, 1);
  await redisCli("client", "unpause");
  for (let i = 0; i < 50 && (await mashupCounters(ids.mashup)).plays === null; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assertEquals((await mashupCounters(ids.mashup)).plays, 1);
});

counterTest("an upper-case mashup id is stored and counted as its lower-case self: one set of live counters", async () => {
  const ids = { mashup: uuid(), creator: uuid() };
  const upper = { mashup: ids.mashup.toUpperCase(), creator: ids.creator.toUpperCase() };
  const events = [eventFor("mashup_played", ids), eventFor("mashup_played", upper), eventFor("mashup_liked", upper)];
  assertEquals((await track({ events })).body, { accepted: 3, duplicates: 0, rejected: [], ignored: 0 });
  assertEquals(await mashupCounters(ids.mashup), { plays: 2, likes: 1, shares: null, comments: null, downloads: null, reactions: null });
  assertEquals(await redis.exists(`mashup:${upper.mashup}:plays`, `mashup:${upper.mashup}:likes`), 0);
  const stored = await storedEvents(events.map((e) => e.id));
  assertEquals(new Set(stored.map((r) => [r.mashup_id, r.properties.mashup_id].join(" "))), new Set([`${ids.mashup} ${ids.mashup}`]));
});
