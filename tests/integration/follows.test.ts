// Follows end to end (issue 13 item 7): a follow sent as a signed-in user_followed event through
// track and one written by the app into public.follows are the same kind of thing; the dashboard's
// followers, following and user_daily_stats.followers_gained agree; an unfollow takes one away; and
// a follow never waits for a running aggregation job.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, ENV, userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { createTrackClient } from "../../types/client.ts";
import { fetchAsNewClient } from "../_support/track.ts";

async function summaryOf(token: string) {
  const res = await fetch(`${API_URL}/functions/v1/analytics/dashboard`, { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  return body.summary as { followers: number; following: number };
}

async function gainedToday(creatorId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select coalesce(sum(followers_gained), 0)::int as n from public.user_daily_stats
    where user_id = ${creatorId} and date = (now() at time zone 'UTC')::date`;
  return row.n;
}

Deno.test("a follow by event and a follow by table count alike; an unfollow counts; a follow never waits for a job", async () => {
  const creator = await createUser("follow-creator");
  const byEvent = await createUser("follow-by-event");
  const byTable = await createUser("follow-by-table");

  // 1. a signed-in follow through track (the typed client's trackFollow): it is a follow at once
  const client = createTrackClient({
    url: API_URL,
    accessToken: () => byEvent.token,
    fetch: fetchAsNewClient as typeof fetch,
  });
  client.trackFollow(creator.id);
  client.trackFollow(creator.id); // the same follow sent twice
  const [answer] = await client.flush();
  assertEquals(answer.accepted, 2);
  assertEquals((await summaryOf(creator.token)).followers, 1);
  assertEquals((await summaryOf(byEvent.token)).following, 1);

  // 2. the app writes a follow while an aggregation job holds the lock: the write does not wait
  let waitedMs = -1;
  await sql.begin(async (job) => {
    await job`select aggregation.lock(true)`;
    const started = performance.now();
    const write = userClient(byTable.token).from("follows").insert({ follower_id: byTable.id, creator_id: creator.id });
    const timeout = new Promise<{ error: { message: string } }>((r) =>
      setTimeout(() => r({ error: { message: "blocked for 10 s" } }), 10_000)
    );
    const { error } = await Promise.race([write, timeout]);
    assertEquals(error, null);
    waitedMs = performance.now() - started;
  });
  assert(waitedMs >= 0 && waitedMs < 10_000, `the follow did not wait for the job (${Math.round(waitedMs)} ms)`);
  assertEquals((await summaryOf(creator.token)).followers, 2);

  const [queued] = await sql<{ n: number }[]>`select count(*)::int as n from aggregation.pending_user_days
    where user_id = ${creator.id}`;
  assertEquals(queued.n, 1, "the follow's day was queued for the job instead");

  // the jobs catch up (the 5-minute run for the event, `follow-days` for the queued table follow)
  await sql`select aggregation.user_day((now() at time zone 'UTC')::date)`;
  await sql`select aggregation.run_pending_user_days()`;
  assertEquals(await gainedToday(creator.id), 2, "followers_gained today counts both follows");

  // 3. an unfollow (the app deletes the row): one follower fewer, and one gained fewer today
  const { error } = await userClient(byEvent.token).from("follows").delete().eq("creator_id", creator.id);
  assertEquals(error, null);
  assertEquals((await summaryOf(creator.token)).followers, 1);
  assertEquals((await summaryOf(byEvent.token)).following, 0);
  assertEquals(await gainedToday(creator.id), 1, "the unfollow left today's gains at once");
});

Deno.test("a follow moved to another day, or gone with its follower's account, leaves its day and reaches the new one; under a job's lock both days wait for follow-days", async () => {
  const creator = await createUser("follow-moved-creator");
  const fans = [await createUser("follow-moved-fan-1"), await createUser("follow-moved-fan-2")];
  await sql`insert into public.follows ${sql(fans.map((f) => ({ follower_id: f.id, creator_id: creator.id })))}`;
  const [{ today }] = await sql<{ today: string }[]>`select ((now() at time zone 'UTC')::date)::text as today`;
  const days = async () =>
    [...await sql<{ date: string; followers_gained: number }[]>`select date::text, followers_gained
      from public.user_daily_stats where user_id = ${creator.id} order by date`];
  assertEquals(await days(), [{ date: today, followers_gained: 2 }]);

  // An operator backdates one follow (as dashboard_export's fixture does) while a job holds the lock:
  // the update does not wait; the day it left and the day it reached are queued.
  await sql.begin(async (job) => {
    await job`select aggregation.lock(true)`;
    await sql`update public.follows set created_at = '2026-02-01T00:00:00Z'
              where creator_id = ${creator.id} and follower_id = ${fans[0].id}`;
    const queued = await sql<{ day: string }[]>`select day::text from aggregation.pending_user_days
      where user_id = ${creator.id} order by day`;
    assertEquals(queued.map((q) => q.day), ["2026-02-01", today], "both days are queued for follow-days");
  });
  await sql`select aggregation.run_pending_user_days()`; // what pg_cron's follow-days does within the minute
  assertEquals(await days(), [{ date: "2026-02-01", followers_gained: 1 }, { date: today, followers_gained: 1 }]);

  // The other follower's account is deleted: the follow goes with it, and its day at once (or, when
  // a job holds the lock, as after fold_under_load's crash, at follow-days within the minute, which
  // the call does now: a no-op when nothing is queued).
  await sql`delete from auth.users where id = ${fans[1].id}`;
  await sql`select aggregation.run_pending_user_days()`;
  assertEquals(await days(), [{ date: "2026-02-01", followers_gained: 1 }], "no follow left today, no row of zeros");
  assertEquals((await summaryOf(creator.token)).followers, 1);
});

Deno.test("a signed-in user cannot date a follow: a body naming created_at is a 400 naming the field, nothing stored", async () => {
  const creator = await createUser("follow-dated-creator");
  const fan = await createUser("follow-dated-fan");
  const days = async () =>
    (await sql<{ date: string; n: number }[]>`select date::text, followers_gained as n from public.user_daily_stats
      where user_id = ${creator.id} and followers_gained <> 0 order by date`).map((r) => [r.date, r.n]);

  // What a hostile client sends through PostgREST: a follow far in the future, one in the past.
  for (const created_at of ["2099-01-01T00:00:00Z", "1999-06-01T00:00:00Z"]) {
    const res = await fetch(`${API_URL}/rest/v1/follows`, {
      method: "POST",
      headers: {
        apikey: ENV.SUPABASE_PUBLISHABLE_KEY,
        Authorization: `Bearer ${fan.token}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ follower_id: fan.id, creator_id: creator.id, created_at }),
    });
    const body = await res.json();
    assertEquals([res.status, body.code, body.hint], [400, "22023", "created_at"], created_at);
  }
  const [stored] = await sql<{ n: number }[]>`select count(*)::int as n from public.follows where creator_id = ${creator.id}`;
  assertEquals(stored.n, 0, "nothing stored");
  assertEquals(await days(), []);

  // Without it the database dates the follow, and it counts today (UTC).
  const { error } = await userClient(fan.token).from("follows").insert({ follower_id: fan.id, creator_id: creator.id });
  assertEquals(error, null);
  await sql`select aggregation.run_pending_user_days()`; // follow-days, if a job held the lock
  const [today] = await sql<{ d: string }[]>`select ((now() at time zone 'UTC')::date)::text as d`;
  assertEquals(await days(), [[today.d, 1]]);
});

Deno.test("an unfollow queued while a consumer recounts its day is not lost: the next look counts it", async () => {
  const creator = await createUser("follow-race-creator");
  const fans = await Promise.all([1, 2, 3].map((i) => createUser(`follow-race-fan${i}`)));
  for (const f of fans) await sql`insert into public.follows (follower_id, creator_id) values (${f.id}, ${creator.id})`;
  const gained = async () => {
    const [r] = await sql<{ n: number }[]>`select coalesce(sum(followers_gained), 0)::int as n
      from public.user_daily_stats where user_id = ${creator.id}`;
    return r.n;
  };
  assertEquals(await gained(), 3);
  const other = await sql.reserve();
  try {
    // A job holds the lock: the first unfollow queues the creator's day.
    await sql.begin(async (job) => {
      await job`select aggregation.lock(true)`;
      await sql`delete from public.follows where follower_id = ${fans[0].id} and creator_id = ${creator.id}`;
      // The second unfollow queues the same day and stays open.
      await other`begin`;
      await other`delete from public.follows where follower_id = ${fans[1].id} and creator_id = ${creator.id}`;
    });
    // The follow-days job takes the queue and recounts the day while the second unfollow is open.
    await sql`select aggregation.run_pending_user_days()`;
    await other`commit`;
  } finally {
    other.release();
  }
  await sql`select aggregation.run_pending_user_days()`; // the next minute's look
  assertEquals(await gained(), 1, "one follow stands, one counted");
});
