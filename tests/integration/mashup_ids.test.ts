// A deleted mashup's id through the whole stack (issue 13 item 12): its former creator's live
// numbers stop taking its plays once the sync has run (Redis's mashup -> creator cache forgets it),
// and nobody can create a mashup with that id again, through PostgREST as a creator or otherwise.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, SERVICE_KEY, userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { redis, track, uuid, validEvent } from "../_support/track.ts";

const MASHUP_CREATOR_HASH = "rt:mashup_creator";

async function realtimeAs(token: string) {
  const res = await fetch(`${API_URL}/functions/v1/analytics/realtime`, { headers: { Authorization: `Bearer ${token}` } });
  assertEquals(res.status, 200);
  return await res.json() as {
    activeUsers: number;
    playingNow: { mashupId: string; listeners: number }[];
    lastHour: { plays: number; likes: number };
  };
}

function playOf(mashupId: string, anonymousId: string) {
  return validEvent("mashup_played", {
    anonymous_id: anonymousId,
    properties: { mashup_id: mashupId, source: "direct", auto_play: false, play_id: uuid() },
  });
}

Deno.test("a deleted mashup: the live cache forgets its creator after the sync, and its id is never created again", async () => {
  const owner = await createUser("id-owner");
  const taker = await createUser("id-taker");
  const [{ id: mashup }] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${owner.id}, 'Soon deleted', 180) returning id`;

  // A live play: the cache learns the owner, the owner's live view counts the listener.
  assertEquals((await track(playOf(mashup, `anon-test-live-1-${uuid()}`))).body.accepted, 1);
  assertEquals(await redis.hget(MASHUP_CREATOR_HASH, mashup), owner.id);
  const before = await realtimeAs(owner.token);
  assertEquals([before.activeUsers, before.lastHour.plays, before.playingNow.length], [1, 1, 1], JSON.stringify(before));

  // The owner deletes it (PostgREST, under RLS); the sync runs, as every 5 minutes.
  const { error } = await userClient(owner.token).from("mashups").delete().eq("id", mashup);
  assertEquals(error, null);
  const sync = await fetch(`${API_URL}/functions/v1/realtime-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${SERVICE_KEY}`, "Content-Type": "application/json" },
    body: "{}",
  });
  const report = await sync.json();
  assertEquals(sync.status, 200, JSON.stringify(report));
  assert(report.deletedMashups.forgotten >= 1, JSON.stringify(report.deletedMashups));
  assertEquals(await redis.hget(MASHUP_CREATOR_HASH, mashup), null, "the cache forgot the deleted mashup");
  // Its listener, play and playing-now left the owner's live view with it, as the view from Postgres
  // has it (Redis down): a deleted mashup's events belong to no creator.
  const after = await realtimeAs(owner.token);
  assertEquals([after.activeUsers, after.lastHour.plays, after.playingNow], [0, 0, []], JSON.stringify(after));

  // A late play of the deleted mashup: stored (raw events are never refused for it), but no longer
  // the former owner's live listener.
  assertEquals((await track(playOf(mashup, `anon-test-live-2-${uuid()}`))).body.accepted, 1);
  assertEquals((await realtimeAs(owner.token)).activeUsers, 0, "the late listener is nobody's either");
  assertEquals(await redis.hget(MASHUP_CREATOR_HASH, mashup), null);

  // Nobody can take the id: not a creator through PostgREST (no choosing ids at all) ...
  const chosen = await userClient(taker.token).from("mashups")
    .insert({ id: mashup, creator_id: taker.id, title: "Taken", duration_seconds: 180 });
  assertEquals(chosen.error?.code, "42501", "a creator cannot choose a mashup id");
  // ... nor an operator or a server with the service role.
  let refused = "";
  try {
    await sql`insert into public.mashups (id, creator_id, title, duration_seconds) values (${mashup}, ${taker.id}, 'Taken', 180)`;
  } catch (e) {
    refused = (e as { code?: string }).code ?? "";
  }
  assertEquals(refused, "23505", "a deleted mashup's id is retired");
  const taken = await userClient(taker.token).from("mashups").select("id").eq("id", mashup);
  assertEquals(taken.data, []);
});
