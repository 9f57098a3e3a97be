// The aggregation jobs' documented behaviour (docs/aggregation.md), each on a job name of its own so
// the stack's pg_cron job and its watermark are never moved: the incremental run logs `skipped`
// while another writer holds the lock, takes what arrived up to 30 s before now, catches up in
// steps of 6 hours of arrivals;
// a backfill reports its progress day by day and stops at the day that fails, keeping the days
// before it.
import { assert, assertEquals } from "../_support/assert.ts";
import { createUser, endSql, sql } from "../_support/db.ts";
import { userClient } from "../_support/env.ts";

const run = crypto.randomUUID().slice(0, 8);
const H = 3_600_000;

type Run = { status: string; window_start: Date | null; window_end: Date | null; started_at: Date; error: string | null };
async function incremental(job: string, lockWait = "1 minute"): Promise<Run> {
  const [{ id }] = await sql<{ id: string }[]>`
    select aggregation.run_incremental(p_job => ${job}, p_lock_wait => ${lockWait}::interval) as id`;
  const [r] = await sql<Run[]>`select status, window_start, window_end, started_at, error from aggregation.runs where id = ${id}`;
  return r;
}
async function watermark(job: string): Promise<Date | null> {
  const [w] = await sql<{ t: Date }[]>`select received_through as t from aggregation.watermarks where job = ${job}`;
  return w?.t ?? null;
}
async function setWatermark(job: string, ageMs: number): Promise<Date> {
  const [w] = await sql<{ t: Date }[]>`insert into aggregation.watermarks (job, received_through, updated_at)
    values (${job}, now() - make_interval(secs => ${ageMs / 1000}), now())
    on conflict (job) do update set received_through = excluded.received_through returning received_through as t`;
  return w.t;
}

Deno.test("incremental: a run that finds the lock held past its wait logs `skipped` and leaves the queue to the next", async () => {
  const job = `test-skip-${run}`;
  const before = await setWatermark(job, 2 * 60_000);
  let skipped: Run | undefined;
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`; // as the nightly job or a backfill day holds it
    skipped = await incremental(job, "1 second"); // the job waits a minute; the wait is the same rule
  });
  assertEquals(skipped!.status, "skipped");
  assertEquals(skipped!.error, "another aggregation run held the lock; the next run takes what is queued");
  assertEquals(await watermark(job), before, "the watermark did not move");
  const next = await incremental(job);
  assertEquals(next.status, "succeeded");
});

// What an advisory lock wait looks like from outside: the run's backend waiting for the lock.
async function waitersForTheAggregationLock(): Promise<number> {
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from pg_catalog.pg_locks
    where locktype = 'advisory' and not granted and objid = (7348201945::bigint & 4294967295)::oid`;
  return n;
}

Deno.test("incremental: a run waits behind a short holder of the lock instead of skipping (users' follows hold it for a moment)", async () => {
  const job = `test-wait-${run}`;
  await setWatermark(job, 2 * 60_000);
  let pending: Promise<Run> | undefined;
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`; // a follow's transaction, say
    pending = incremental(job); // the scheduled run: default wait
    for (let i = 0; i < 200 && (await waitersForTheAggregationLock()) === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(await waitersForTheAggregationLock(), 1, "the run waits for the lock");
    // Meanwhile a request that only tries the lock (a follow's) is refused: it queues its day.
    const [{ got }] = await sql<{ got: boolean }[]>`select aggregation.lock(false) as got`;
    assertEquals(got, false);
  });
  const r = await pending!;
  assertEquals(r.status, "succeeded", "the run took the lock when the holder committed");
});

Deno.test("a creator's duration edit commits while a job holds the aggregation lock; the next run re-caps its plays", async () => {
  const creator = await createUser(`duration-${run}`);
  const [{ id: mashup }] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${creator.id}, 'duration mix', 180) returning id`;
  const play = crypto.randomUUID();
  await sql`insert into public.analytics_events (event_type, properties, anonymous_id, session_id, "timestamp")
    values ('mashup_played', ${sql.json({ mashup_id: mashup, play_id: play })}, ${`dur-${run}`}, 's', now() - interval '2 minutes'),
           ('mashup_play_progress', ${sql.json({ mashup_id: mashup, play_id: play, position_seconds: 150 })},
            ${`dur-${run}`}, 's', now() - interval '1 minute')`;
  const fold = () => sql`select aggregation.run_incremental(p_lag => '0', p_max_window => '100 years', p_wait => true)`;
  await fold();
  const summary = async () => {
    const [s] = await sql<{ furthest: number; completed: boolean; completed_plays: number }[]>`
      select s.furthest_position_seconds::int as furthest, s.completed, l.completed_plays::int as completed_plays
      from public.mashup_play_summaries s join public.mashup_lifetime_stats l using (mashup_id)
      where s.play_id = ${play}`;
    return s;
  };
  assertEquals(await summary(), { furthest: 150, completed: false, completed_plays: 0 }, "150 s of 180: not completed");

  const creatorClient = userClient(creator.token);
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const retention = async () => {
    const { data, error } = await creatorClient.rpc("get_mashup_analytics", {
      p_mashup_id: mashup, p_start: day(-1), p_end: day(2), p_tz: "UTC",
    });
    assertEquals(error, null);
    const r = (data as { retention: { completionRate: number; dropOffPoints: { time: number; percentage: number }[] } })
      .retention;
    const last = r.dropOffPoints[r.dropOffPoints.length - 1];
    return { completionRate: r.completionRate, lastCheckpoint: last.time, atLast: last.percentage };
  };
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`; // a run in progress (or a backfill)
    // Through PostgREST as the creator: answered while the lock is still held (it used to wait for it).
    const { error } = await creatorClient.from("mashups").update({ duration_seconds: 120 }).eq("id", mashup)
      .abortSignal(AbortSignal.timeout(20_000));
    assertEquals(error, null);
    const queued = await tx`select 1 from aggregation.pending_duration_refolds where mashup_id = ${mashup}`;
    assertEquals(queued.length, 1, "the edit queued its mashup for the next run");
    // Until the run, the creator's retention is the previous duration's throughout, never a mix.
    assertEquals(await retention(), { completionRate: 0, lastCheckpoint: 180, atLast: 100 });
  });
  await fold();
  assertEquals(await summary(), { furthest: 120, completed: true, completed_plays: 1 }, "capped at 120 s: completed");
  assertEquals(await retention(), { completionRate: 100, lastCheckpoint: 120, atLast: 0 });
  const left = await sql`select 1 from aggregation.pending_duration_refolds where mashup_id = ${mashup}`;
  assertEquals(left.length, 0, "the run emptied the queue");

  // An edit while a run has taken the queue (its refold of this mashup not committed yet) does not
  // wait for the run's commit, and the next run refolds it.
  assertEquals((await creatorClient.from("mashups").update({ duration_seconds: 100 }).eq("id", mashup)).error, null);
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`;
    await tx`select aggregation.run_pending_duration_refolds()`; // takes the edit to 100 s, refolds it
    const { error } = await creatorClient.from("mashups").update({ duration_seconds: 160 }).eq("id", mashup)
      .abortSignal(AbortSignal.timeout(20_000));
    assertEquals(error, null, "the edit does not wait for the run");
  });
  await fold();
  assertEquals(await summary(), { furthest: 150, completed: false, completed_plays: 0 }, "the last edit (160 s) counts");

  // The creator deletes the mashup while a run refolds it: the delete waits for the run, the run's
  // later statements on the mashup's rows do not wait for the delete (no deadlock), both succeed.
  assertEquals((await creatorClient.from("mashups").update({ duration_seconds: 90 }).eq("id", mashup)).error, null);
  let deleted: Promise<{ error: unknown; status: number }> | undefined;
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`;
    await tx`select aggregation.run_pending_duration_refolds()`;
    deleted = Promise.resolve(creatorClient.from("mashups").delete().eq("id", mashup));
    for (let i = 0; i < 100; i++) {
      const waiting = await sql`select 1 from pg_catalog.pg_stat_activity
        where wait_event_type = 'Lock' and query ilike '%delete%mashups%'`;
      if (waiting.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The rest of a run that writes the mashup's rows after the delete began.
    await tx`select aggregation.refold_durations(array[${mashup}]::uuid[])`;
    await tx`update public.mashup_daily_stats set plays = plays where mashup_id = ${mashup}`;
    await new Promise((r) => setTimeout(r, 1500)); // past deadlock_timeout (1 s): a cycle would be found now
  });
  const d = await deleted!;
  assertEquals([d.error, d.status], [null, 204], "the delete went through after the run");
});

Deno.test("incremental: the window ends 30 s before now; what arrived since waits for the next run", async () => {
  const job = `test-lag-${run}`;
  await setWatermark(job, 2 * 60_000);
  const r = await incremental(job);
  assertEquals(r.status, "succeeded");
  const lag = r.started_at.getTime() - r.window_end!.getTime();
  assert(lag >= 30_000 && lag < 31_000, `window end ${lag} ms before the run's start`);
  assertEquals((await watermark(job))!.getTime(), r.window_end!.getTime(), "the watermark moves to the window's end");
});

Deno.test("incremental: after an outage it catches up in steps of at most 6 hours of arrivals", async () => {
  const creator = await createUser(`catchup-${run}`);
  const [{ id: mashup }] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${creator.id}, 'catch-up mix', 120) returning id`;
  // In one transaction that holds the queue (other sessions' inserts wait a moment), so neither the
  // stack's own 5-minute job nor events from other tests change what these runs see. The aggregation
  // lock first, then the queue: the order every aggregation writer takes them in (a job that holds
  // the lock and waits for the queue would otherwise deadlock with this test).
  const [first, second] = await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`;
    await tx`lock table aggregation.pending_events in exclusive mode`;
    await tx`select aggregation.run_incremental(p_lag => '0', p_max_window => '1000 years', p_wait => true)`; // empty the queue
    await tx`insert into public.analytics_events (event_type, properties, "timestamp", session_id, received_at)
      select 'mashup_played', jsonb_build_object('mashup_id', ${mashup}::uuid), now() - make_interval(hours => h),
             'sess-catchup', now() - make_interval(hours => h)
      from unnest(array[20, 16, 13]) as h`;
    const runs: { events_read: string; window_start: Date; window_end: Date }[] = [];
    for (let i = 0; i < 2; i++) {
      const [{ id }] = await tx<{ id: string }[]>`select aggregation.run_incremental(p_job => ${"test-catchup-" + run}) as id`;
      const [r] = await tx<{ events_read: string; window_start: Date; window_end: Date }[]>`
        select events_read, window_start, window_end from aggregation.runs where id = ${id}`;
      runs.push(r);
    }
    return runs;
  });
  assertEquals(Number(first.events_read), 2, "the first run takes what arrived in the 6 hours after the oldest");
  assertEquals(first.window_end.getTime() - first.window_start.getTime(), 6 * H);
  assertEquals(Number(second.events_read), 1, "the next run takes the rest");
  const [{ plays }] = await sql<{ plays: string }[]>`select plays from public.mashup_lifetime_stats where mashup_id = ${mashup}`;
  assertEquals(Number(plays), 3, "each event folded once");
});

Deno.test("backfill: progress per day, stops at the failing day with it in the error, keeps the days before", async () => {
  const creator = await createUser(`backfill-${run}`);
  const [m] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds, created_at)
    values (${creator.id}, 'backfill mix', 120, '2021-01-01') returning id`;
  const days = ["2021-01-01", "2021-01-02", "2021-01-03"];
  // January 2021 is long past the raw-event retention horizon: create its month for the fixture
  // (the daily partition maintenance drops it again once its rollups are final).
  await sql`select raw_events.create_month('2021-01-01')`;
  await sql`insert into public.analytics_events (event_type, properties, anonymous_id, session_id, "timestamp", received_at)
    select 'mashup_played', ${sql.json({ mashup_id: m.id, source: "direct", auto_play: false })}, 'bf-' || d, 'bf-' || d,
           d::date + time '12:00', d::date + time '12:00'
    from unnest(${days}::text[]) as d, generate_series(1, 2)`;
  // Day two fails, for this mashup only (a trigger standing in for, say, a statement timeout).
  const fn = `public.test_fail_backfill_${run}`;
  await sql.unsafe(`create function ${fn}() returns trigger language plpgsql set search_path = '' as $f$
    begin raise exception 'induced failure for the test'; end $f$`);
  await sql.unsafe(`create trigger test_fail_backfill_${run} before insert or update on public.mashup_daily_stats
    for each row when (new.mashup_id = '${m.id}' and new.date = '2021-01-02') execute function ${fn}()`);
  try {
    let message = "";
    try {
      await sql`call aggregation.backfill('2021-01-01', '2021-01-04')`;
    } catch (e) {
      message = (e as Error).message;
    }
    assert(/failed on 2021-01-02: induced failure for the test/.test(message), `the call fails naming the day: ${message}`);
    const [failed] = await sql<{ status: string; days_total: number; days_done: number; last_day: string; error: string }[]>`
      select status, days_total, days_done, last_day::text, error from aggregation.backfills
      where from_date = '2021-01-01' and to_date = '2021-01-04' order by id desc limit 1`;
    assertEquals(failed, {
      status: "failed",
      days_total: 3,
      days_done: 1,
      last_day: "2021-01-01",
      error: "2021-01-02: induced failure for the test",
    });
    const kept = await sql<{ date: string; plays: number }[]>`select date::text, plays from public.mashup_daily_stats
      where mashup_id = ${m.id} order by date`;
    assertEquals([...kept], [{ date: "2021-01-01", plays: 2 }], "the day before the failure is kept, none after");
  } finally {
    await sql.unsafe(`drop trigger test_fail_backfill_${run} on public.mashup_daily_stats`);
    await sql.unsafe(`drop function ${fn}()`);
  }
  await sql`call aggregation.backfill('2021-01-01', '2021-01-04')`;
  const [done] = await sql<{ status: string; days_done: number; last_day: string }[]>`
    select status, days_done, last_day::text from aggregation.backfills
    where from_date = '2021-01-01' and to_date = '2021-01-04' order by id desc limit 1`;
  assertEquals(done, { status: "succeeded", days_done: 3, last_day: "2021-01-03" });
  const all = await sql<{ date: string; plays: number }[]>`select date::text, plays from public.mashup_daily_stats
    where mashup_id = ${m.id} order by date`;
  assertEquals([...all], days.map((date) => ({ date, plays: 2 })), "re-running completes every day");
});

Deno.test("backfill: a failure before its first day or after its last is recorded as failed, not left running", async () => {
  // Each failure is induced for this test's session only (a setting the triggers test), so the
  // stack's cron runs and other tests meet the tables as they are.
  const fn = `public.test_fail_backfill_step_${run}`;
  await sql.unsafe(`create function ${fn}() returns trigger language plpgsql set search_path = '' as $f$
    begin raise exception 'induced % failure', tg_argv[0]; end $f$`);
  await sql.unsafe(`create trigger test_fail_backfill_open_${run} before update on dashboard.creator_rollup_days
    for each row when (current_setting('test.fail_backfill', true) = 'open') execute function ${fn}('opening')`);
  await sql.unsafe(`create trigger test_fail_backfill_tail_${run} before insert on aggregation.watermarks
    for each row when (current_setting('test.fail_backfill', true) = 'tail') execute function ${fn}('watermark')`);
  const session = await sql.reserve();
  type Backfill = { status: string; days_total: number; days_done: number; error: string | null };
  const latest = async (from: string, to: string) => {
    const [b] = await sql<(Backfill & { id: string })[]>`select id, status, days_total, days_done, error
      from aggregation.backfills where from_date = ${from}::date and to_date = ${to}::date order by id desc limit 1`;
    const [r] = await sql<{ status: string; error: string }[]>`select status, error from aggregation.runs
      where job = 'backfill' and started_at = (select started_at from aggregation.backfills where id = ${b.id})`;
    const { id: _id, ...row } = b;
    return { backfill: row, run: r };
  };
  try {
    // After the last day: a past day's backfill rebuilds its day, then the first watermark's insert fails.
    await session`set test.fail_backfill = 'tail'`;
    let message = "";
    try {
      await session`call aggregation.backfill('2021-01-05', '2021-01-06')`;
    } catch (e) {
      message = (e as Error).message;
    }
    assert(/failed after its last day: induced watermark failure/.test(message), `the call fails naming the step: ${message}`);
    assertEquals(await latest("2021-01-05", "2021-01-06"), {
      backfill: { status: "failed", days_total: 1, days_done: 1, error: "after the last day: induced watermark failure" },
      run: { status: "failed", error: "after the last day: induced watermark failure" },
    });

    // Before the first day: a backfill through today opens the creator rollups' days from yesterday,
    // and moving the boundary fails. No day is rebuilt and the boundary stays where it was.
    await session`select aggregation.close_creator_days()`; // the boundary at today, as the cron keeps it
    const [{ from, to, open_from }] = await session<{ from: string; to: string; open_from: string }[]>`
      select ((now() at time zone 'UTC')::date - 1)::text as from, ((now() at time zone 'UTC')::date + 1)::text as to,
             (select open_from::text from dashboard.creator_rollup_days) as open_from`;
    await session`set test.fail_backfill = 'open'`;
    message = "";
    try {
      await session`call aggregation.backfill(${from}::date, ${to}::date)`;
    } catch (e) {
      message = (e as Error).message;
    }
    assert(/failed before its first day: induced opening failure/.test(message), `the call fails naming the step: ${message}`);
    assertEquals(await latest(from, to), {
      backfill: { status: "failed", days_total: 2, days_done: 0, error: "before the first day: induced opening failure" },
      run: { status: "failed", error: "before the first day: induced opening failure" },
    });
    const [{ now_open }] = await sql<{ now_open: string }[]>`select open_from::text as now_open from dashboard.creator_rollup_days`;
    assertEquals(now_open, open_from, "the creator rollups' boundary is unchanged");
  } finally {
    session.release();
    await sql.unsafe(`drop trigger test_fail_backfill_open_${run} on dashboard.creator_rollup_days`);
    await sql.unsafe(`drop trigger test_fail_backfill_tail_${run} on aggregation.watermarks`);
    await sql.unsafe(`drop function ${fn}()`);
  }
});

Deno.test.afterAll(endSql);
