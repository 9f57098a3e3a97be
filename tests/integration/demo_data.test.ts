// The demo data stays current (item: the seed is anchored at its load time, so after 30 days the
// dashboard's default period would be empty). The seed is aged here on purpose, then the start
// hook must move it back to now, recompute its rollups exactly, and leave everything else alone.
// The stack's demo data ends as current as before: the test restores what it changes.
import { assert, assertEquals } from "../_support/assert.ts";
import { DEMO_ID, ENV } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { rollupMismatches } from "../_support/exactness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `${cmd} ${args.join(" ")}: ${text}`);
  return text;
}

/** Plays on the demo creator's mashups: rollups and raw events (whoever sent them: they must agree),
 * and the seed's own plays in the last 30 days (demo.seed_events: what the aging and re-anchoring
 * move; a stack may hold plays of others on the demo's mashups, which stay where they are). */
async function demoPlays() {
  const [r] = await sql<
    { rollup_30d: string; raw_30d: string; seed_30d: string; rollup_all: string; raw_all: string }[]
  >`
    with m as (select id from public.mashups where creator_id = ${DEMO_ID})
    select
      (select coalesce(sum(plays), 0) from public.mashup_daily_stats
        where mashup_id in (select id from m) and date > current_date - 30) as rollup_30d,
      (select count(*) from public.analytics_events where event_type = 'mashup_played'
        and mashup_id in (select id from m) and "timestamp" >= current_date - 29) as raw_30d,
      (select count(*) from public.analytics_events e where e.event_type = 'mashup_played'
        and e.mashup_id in (select id from m) and e."timestamp" >= current_date - 29
        and e.id in (select s.id from demo.seed_events s)) as seed_30d,
      (select coalesce(sum(plays), 0) from public.mashup_daily_stats where mashup_id in (select id from m)) as rollup_all,
      (select count(*) from public.analytics_events where event_type = 'mashup_played'
        and mashup_id in (select id from m)) as raw_all`;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
}

Deno.test("a stack whose rollups hold counts its raw events no longer have keeps its demo where it is, unless forced", async () => {
  // A listener's play, counted, then erased: its mashup's rollups keep the play the raw events no
  // longer have (docs/raw-storage.md, Erasure). The re-anchoring starts every rollup over from the
  // raw events, so it would lose that play.
  const creator = await createUser("demo-data-held-creator");
  const listener = await createUser("demo-data-held-listener");
  const [m] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${creator.id}, 'held mix', 180) returning id`;
  const played = (day: string) =>
    sql<{ plays: number }[]>`select plays from public.mashup_daily_stats where mashup_id = ${m.id} and date = ${day}::date`;
  try {
    const [{ day }] = await sql<{ day: string }[]>`
      insert into public.analytics_events (event_type, properties, user_id, session_id, "timestamp")
      values ('mashup_played', ${sql.json({ mashup_id: m.id, source: "direct", auto_play: false, play_id: crypto.randomUUID() })},
              ${listener.id}, 'demo-data-held', now() - interval '1 hour')
      returning (("timestamp" at time zone 'UTC')::date)::text as day`;
    await sql`select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true)`;
    await sql`select public.erase_listener(p_user_id => ${listener.id})`;
    assertEquals([...await played(day)], [{ plays: 1 }], "the erased play stays counted");

    await run("psql", ["-X", "-q", ENV.SUPABASE_DB_URL, "-v", "days=40", "-f", "tests/_support/age_demo_data.sql"]);
    const held = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"]);
    assert(/note: the demo data is over an hour old but not moved forward, the rollups hold counts/.test(held), held);
    assert(!/moved forward to now/.test(held), held);
    assertEquals((await demoPlays()).seed_30d, 0, "the seed stays where it is");
    assertEquals([...await played(day)], [{ plays: 1 }], "the erased play is still counted");

    // Asked to, it moves the seed, and the recount from the raw events loses the erased play.
    const forced = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"], { STACK_DEMO_CURRENT: "force" });
    assert(/demo data moved forward/.test(forced), forced);
    assert((await demoPlays()).seed_30d > 1000, "the seed is current again");
    assertEquals([...await played(day)], [], "the erased play is no longer counted");
    assertEquals([...await sql`select day from aggregation.erased_days`], [], "no day holds counts the raw events lack");
    assertEquals(await rollupMismatches(), [], "every rollup equals a recount after the forced re-anchoring");
  } finally {
    // The live totals keep the erased play (raw_events.removed_realtime_counts); the mashup is the test's.
    await sql`delete from raw_events.removed_realtime_counts where kind = 'mashup' and subject_id = ${m.id}`;
    await sql`delete from public.mashups where id = ${m.id}`;
    await sql`delete from auth.users where id in (${creator.id}, ${listener.id})`;
    await run("bash", ["scripts/post-start.d/50-realtime-recover.sh"]);
  }
});

Deno.test("a demo seed 40 days old is moved back to now at start, rollups recomputed, other rows untouched", async () => {
  const [mashup] = await sql<{ id: string }[]>`select id from public.mashups where creator_id = ${DEMO_ID} limit 1`;
  // An event sent to the stack after the seed was loaded: never moved.
  const [own] = await sql<{ id: string; timestamp: Date; received: string }[]>`
    insert into public.analytics_events (event_type, properties, anonymous_id, session_id, "timestamp", received_at)
    values ('mashup_liked', ${sql.json({ mashup_id: mashup.id })}, 'demo-data-test', 'demo-data-test',
            date_trunc('second', now()) - interval '2 hours', now())
    returning id, "timestamp", received_at::text as received`;
  // A follow made on a day without any event (an operator's backdated follow; dashboard_export's
  // fixture leaves such follows): the re-anchoring starts every rollup over, and that day's
  // followers_gained must be rebuilt with the rest.
  const followed = await createUser("demo-data-followed");
  const follower = await createUser("demo-data-follower");
  const [{ events }] = await sql<{ events: number }[]>`select count(*)::int as events from public.analytics_events
    where "timestamp" >= '2024-02-29T00:00:00Z' and "timestamp" < '2024-03-01T00:00:00Z'`;
  assertEquals(events, 0, "no event on 2024-02-29");
  await sql`insert into public.follows (follower_id, creator_id, created_at)
            values (${follower.id}, ${followed.id}, '2024-02-29T12:00:00Z')`;
  try {
    await run("psql", ["-X", "-q", ENV.SUPABASE_DB_URL, "-v", "days=40", "-f", "tests/_support/age_demo_data.sql"]);
    const aged = await demoPlays();
    assertEquals(aged.seed_30d, 0, "aged 40 days, the seed has no play in the last 30 days");

    // A stack that asks to keep its data where it is (bench/dashboard/run.sh's) is left alone.
    const kept = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"], { STACK_DEMO_CURRENT: "off" });
    assert(!/moved forward/.test(kept), kept);
    assertEquals((await demoPlays()).seed_30d, 0, "STACK_DEMO_CURRENT=off: the seed stays where it is");

    const [{ before }] = await sql<{ before: Date }[]>`select now() as before`;
    const out = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"]);
    assert(/demo data moved forward/.test(out), out);
    // Every rollup row was written anew: the re-anchoring vacuums them, so the dashboard's
    // index-only reads do not fetch each row from the heap until autovacuum comes by.
    const unvacuumed = await sql<{ relname: string }[]>`
      select relname from pg_stat_user_tables
      where relid in ('public.mashup_daily_stats'::regclass, 'public.user_daily_stats'::regclass,
                      'public.mashup_quarter_hour_stats'::regclass, 'public.mashup_quarter_hour_breakdowns'::regclass,
                      'public.mashup_play_summaries'::regclass, 'public.mashup_daily_retention'::regclass,
                      'public.mashup_listeners'::regclass, 'public.mashup_lifetime_stats'::regclass,
                      'public.creator_quarter_hour_stats'::regclass, 'public.creator_daily_breakdowns'::regclass,
                      'aggregation.mashup_daily_listeners'::regclass, 'aggregation.play_folds'::regclass)
        and (last_vacuum is null or last_vacuum < ${before})`;
    assertEquals([...unvacuumed], [], "the re-anchoring vacuumed every rollup it rewrote");

    const [anchor] = await sql<{ age_s: string; newest_s: string }[]>`
      select extract(epoch from now() - (u.created_at + interval '200 days')) as age_s,
             extract(epoch from now() - (select max("timestamp") from public.analytics_events
               where mashup_id in (select id from public.mashups where creator_id = ${DEMO_ID})
                 and anonymous_id is distinct from 'demo-data-test')) as newest_s
      from auth.users u where u.id = ${DEMO_ID}`;
    assert(Math.abs(Number(anchor.age_s)) < 300, `the seed is anchored at now (age ${anchor.age_s} s)`);
    assert(Number(anchor.newest_s) > 0 && Number(anchor.newest_s) < 2 * 86400, `newest demo event ${anchor.newest_s} s ago`);

    const now = await demoPlays();
    assert(now.seed_30d > 1000, `the last 30 days hold the seed's plays again (${now.seed_30d})`);
    assertEquals(now.rollup_30d, now.raw_30d, "30-day rollups equal the raw events");
    assertEquals(now.rollup_all, now.raw_all, "no rollup rows left on the days the seed moved away from");

    const [still] = await sql<{ timestamp: Date }[]>`select "timestamp" from public.analytics_events where id = ${own.id}`;
    assertEquals(still.timestamp.getTime(), own.timestamp.getTime(), "an event sent after the load did not move");

    assertEquals([...await sql`select date::text, followers_gained from public.user_daily_stats
                               where user_id = ${followed.id}`], [{ date: "2024-02-29", followers_gained: 1 }],
      "a day with a follow and no event keeps its followers_gained");
    assertEquals(await rollupMismatches(), [], "every rollup of the database equals a recount after the re-anchoring");

    const again = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"]);
    assert(!/moved forward/.test(again), "a current seed is left as it is");

    // The seed moved forward now lies where the event sent after the load lies. A second cycle must
    // still tell them apart: the seed's events are moved by id (demo.seed_events), not by "received
    // before the anchor" (an outside audit saw later events moved as if they were the seed's).
    await run("psql", ["-X", "-q", ENV.SUPABASE_DB_URL, "-v", "days=40", "-f", "tests/_support/age_demo_data.sql"]);
    const second = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"]);
    assert(/demo data moved forward/.test(second), second);
    const [stillAfterTwo] = await sql<{ timestamp: Date; received: string }[]>`
      select "timestamp", received_at::text as received from public.analytics_events where id = ${own.id}`;
    assertEquals(
      [stillAfterTwo.timestamp.getTime(), stillAfterTwo.received],
      [own.timestamp.getTime(), own.received],
      "an event sent after the load stays where it is through a second aging and re-anchoring",
    );
    assertEquals(await rollupMismatches(), [], "every rollup equals a recount after the second re-anchoring");
  } finally {
    await sql`delete from public.analytics_events where id = ${own.id}`;
    // The live totals keep a deleted event's count (raw_events.keep_removed_realtime_counts): this
    // like was the test's own, never a listener's, so its count goes too, or the next reconciliation
    // would add it to the demo mashup's live likes for good (an outside audit found +1 after a run).
    // (The time goes as text: postgres.js turns a timestamptz parameter into a Date, which drops the
    // microseconds.)
    const kept = sql`kind = 'mashup' and subject_id = ${mashup.id} and counter = 'likes'
      and received_at = ${own.received}::text::timestamptz`;
    await sql`delete from raw_events.removed_realtime_counts where ${kept} and events = 1`;
    await sql`update raw_events.removed_realtime_counts set events = events - 1 where ${kept} and events > 1`;
    const day = own.timestamp.toISOString().slice(0, 10);
    await sql`call aggregation.backfill(${day}::date, (${day}::date + 1))`;
    // Redis's live windows follow the moved events (rebuilt by the sync the start hook runs).
    await run("bash", ["scripts/post-start.d/50-realtime-recover.sh"]);
  }
});

Deno.test("a recount stopped halfway is finished by the next start, exactly", async () => {
  await run("psql", ["-X", "-q", ENV.SUPABASE_DB_URL, "-v", "days=40", "-f", "tests/_support/age_demo_data.sql"]);
  // The start hook moves the seed and starts the recount; once some days are recounted (and some
  // not), its backend is killed, as a stack stopped halfway through the start would leave it.
  const hook = new Deno.Command("bash", {
    args: ["scripts/post-start.d/40-demo-data-current.sh"], cwd: ROOT, stdout: "piped", stderr: "piped",
  }).spawn();
  const lock = await sql.reserve();
  let queued = 0;
  try {
    let most = 0;
    for (const started = Date.now(); Date.now() - started < 120_000; await new Promise((r) => setTimeout(r, 5))) {
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from aggregation.rebuild_days`;
      most = Math.max(most, n);
      if (n > 0 && n < most) break;
    }
    // Every day takes the aggregation lock: holding it keeps the rest of the days queued while the
    // recount is killed.
    await lock`begin`;
    await lock`select aggregation.lock(true)`;
    const killed = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where query like 'call aggregation.rebuild_queued_days%' and pg_terminate_backend(pid)`;
    assertEquals(killed.length, 1, "the recount's backend was found and killed");
    [{ queued }] = await sql<{ queued: number }[]>`select count(*)::int as queued from aggregation.rebuild_days`;
    assert(queued > 0 && queued < most, `killed with ${most - queued} of ${most} days recounted (${queued} left)`);
  } finally {
    await lock`rollback`.catch(() => {});
    lock.release();
  }
  const stopped = await hook.output();
  assertEquals(stopped.code, 1, "the start hook reports the recount it could not finish");

  const half = await demoPlays();
  assert(half.rollup_all < half.raw_all, `the days not yet recounted are empty (${half.rollup_all} of ${half.raw_all} plays)`);

  // A start that keeps its data where it is leaves them, but says what is left.
  const kept = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"], { STACK_DEMO_CURRENT: "off" });
  assert(kept.includes(`warning: ${queued} days of rollups are still to recount`), kept);
  assertEquals((await demoPlays()).rollup_all, half.rollup_all, "STACK_DEMO_CURRENT=off recounts nothing");

  // The next start: the seed is current (it moved before the kill), the queued days are finished.
  const out = await run("bash", ["scripts/post-start.d/40-demo-data-current.sh"]);
  assert(/finished the recount an earlier start left \(recounting the rollups of \d+ days\)/.test(out), out);
  assert(!/moved forward/.test(out), "the seed is not moved twice");
  assertEquals([...await sql`select day from aggregation.rebuild_days`], [], "no day is left queued");
  const now = await demoPlays();
  assert(now.seed_30d > 1000, `the last 30 days hold the seed's plays (${now.seed_30d})`);
  assertEquals(now.rollup_all, now.raw_all, "every play of the seed is counted once");
  assertEquals(await rollupMismatches(), [], "every rollup of the database equals a recount after the resumed recount");
  await run("bash", ["scripts/post-start.d/50-realtime-recover.sh"]);
});
