// The sync's window repair reads what arrived since its last repair (migration 20261127002800), so
// its cost follows arrivals, not the busiest hour: an event whose Redis write was lost is still
// written into the windows by the next run, while events received before the last repair are not
// read again. After Redis lost its data, or without a recent repair, the whole hour is read.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, SERVICE_KEY } from "../_support/env.ts";
import { creatorWithMashups, redis, service, storeRaw, track } from "../_support/realtime.ts";
import { keys, PLATFORM_RECENT } from "../../functions/_shared/realtime.ts";
import { WINDOWS_REPAIRED_KEY } from "../../functions/_shared/realtime_sync.ts";

type Windows = { members: number; added: number; scopes: number; since: string | null };

async function invokeSync(request: unknown = {}): Promise<Windows> {
  const res = await fetch(`${API_URL}/functions/v1/realtime-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${SERVICE_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  return body.windows as Windows;
}

Deno.test("the window repair reads what arrived since its last run; a lost Redis write still reaches the windows", async () => {
  const c = await creatorWithMashups("rt-repair-since", 1);
  const [m] = c.mashups;
  const run = crypto.randomUUID().slice(0, 8);
  const creatorSet = keys.recent({ creatorId: c.id });
  const inWindow = async (id: string) => (await redis.zscore(creatorSet, `e|plays|${id}`)) !== null;

  await invokeSync(); // whatever the stack had pending (an erasure's full rebuild, a first run)
  const before = Date.now();
  const again = await invokeSync();
  assert(again.since !== null, "a run after a completed repair reads from that repair on");
  assert(
    Date.parse(again.since!) >= before - 10 * 60_000,
    `since ${again.since} is the last repair less a little`,
  );

  // A play stored without its Redis write (lost), received now: the next run writes it.
  const [lost] = await storeRaw([{
    type: "mashup_played",
    mashupId: m,
    listener: `${run}-lost`,
    at: Date.now() - 5_000,
  }]);
  assertEquals(await inWindow(lost.id), false, "the lost write is not in Redis");
  await invokeSync();
  assertEquals(await inWindow(lost.id), true, "the next run's repair wrote it into the creator's window");

  // A play received half an hour ago (a restore, say), stored after the last repair: the runs
  // after it read only what was received since, so it waits for a full read of the hour.
  const [old] = await storeRaw([{
    type: "mashup_played",
    mashupId: m,
    listener: `${run}-old`,
    at: Date.now() - 30 * 60_000,
    receivedAt: Date.now() - 30 * 60_000,
  }]);
  const incremental = await invokeSync();
  assertEquals(
    await inWindow(old.id),
    false,
    "an incremental run does not read events received before its last repair",
  );

  await redis.del(WINDOWS_REPAIRED_KEY); // as after Redis lost its data
  const full = await invokeSync();
  assertEquals(full.since, null, "without a last repair the whole hour is read");
  assertEquals(await inWindow(old.id), true, "the full read writes it");
  assert(
    full.members >= incremental.members,
    `the full read (${full.members}) is not smaller than an incremental one (${incremental.members})`,
  );
});

Deno.test("a creator's window lost on its own (an evicted key) is whole again after the hourly run", async () => {
  const c = await creatorWithMashups("rt-repair-evicted", 1);
  const [m] = c.mashups;
  const run = crypto.randomUUID().slice(0, 8);
  const creatorSet = keys.recent({ creatorId: c.id });
  const [old] = await storeRaw([{
    type: "mashup_played",
    mashupId: m,
    listener: `${run}-old`,
    at: Date.now() - 20 * 60_000,
    receivedAt: Date.now() - 20 * 60_000,
  }]);
  await redis.del(WINDOWS_REPAIRED_KEY);
  await invokeSync(); // a full read: the play is in the window
  assert((await redis.zscore(creatorSet, `e|plays|${old.id}`)) !== null);

  await redis.del(creatorSet); // evicted
  await invokeSync();
  assertEquals(
    await redis.zscore(creatorSet, `e|plays|${old.id}`),
    null,
    "a 5-minute run reads only what arrived",
  );
  const hourly = await invokeSync({ reconcile: true });
  assertEquals(hourly.since, null, "the hourly run reads the whole hour");
  assert(
    (await redis.zscore(creatorSet, `e|plays|${old.id}`)) !== null,
    "and the lost window is whole again",
  );
});

Deno.test("an erasure cleans a creator's window even when the platform set no longer lists the creator", async () => {
  const c = await creatorWithMashups("rt-erase-unlisted", 1);
  const [m] = c.mashups;
  const run = crypto.randomUUID().slice(0, 8);
  const erased = `anon-test-erase-${run}`;
  const kept = `anon-test-keep-${run}`;
  const creatorSet = keys.recent({ creatorId: c.id });
  await track([
    { type: "mashup_played", mashupId: m, listener: erased, at: Date.now() - 5_000 },
    { type: "mashup_played", mashupId: m, listener: kept, at: Date.now() - 4_000 },
  ]);
  await invokeSync();
  const named = async (who: string) =>
    ((await redis.zrange<string[]>(creatorSet, 0, -1)) ?? []).map(String).filter((x) => x.includes(who))
      .length;
  assert(await named(erased) >= 2, "the listener is live (a| and p| members)");
  await redis.zrem(PLATFORM_RECENT, `s|${c.id}`); // the platform set lost its entry for the creator

  const erasure = await service.rpc("erase_listener", { p_anonymous_id: erased });
  assertEquals(erasure.error, null);
  await invokeSync();
  assertEquals(await named(erased), 0, "the erased listener left the creator's window");
  assert(await named(kept) >= 2, "the other listener is still there");
});
