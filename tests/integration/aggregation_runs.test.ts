// The aggregation jobs' documented behaviour (docs/aggregation.md), each on a job name of its own so
// the stack's pg_cron job and its watermark are never moved: the incremental run logs `skipped`
// while another writer holds the lock, reads up to 30 s before now, catches up in 6-hour steps;
// a backfill reports its progress day by day and stops at the day that fails, keeping the days
// before it.
import { assert, assertEquals } from "../_support/assert.ts";
import { createUser, sql } from "../_support/db.ts";

const run = crypto.randomUUID().slice(0, 8);
const H = 3_600_000;

type Run = { status: string; window_start: Date | null; window_end: Date | null; started_at: Date; error: string | null };
async function incremental(job: string): Promise<Run> {
  const [{ id }] = await sql<{ id: string }[]>`select aggregation.run_incremental(p_job => ${job}) as id`;
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

Deno.test("incremental: a run that finds the lock held logs `skipped` and leaves its window to the next", async () => {
  const job = `test-skip-${run}`;
  const before = await setWatermark(job, 2 * 60_000);
  let skipped: Run | undefined;
  await sql.begin(async (tx) => {
    await tx`select aggregation.lock(true)`; // as the nightly job or a backfill day holds it
    skipped = await incremental(job);
  });
  assertEquals(skipped!.status, "skipped");
  assertEquals(skipped!.error, "another aggregation run held the lock; the next run reads this window");
  assertEquals(await watermark(job), before, "the watermark did not move");
  const next = await incremental(job);
  assertEquals(next.status, "succeeded");
  assertEquals(next.window_start!.getTime(), before.getTime() - 10 * 60_000, "the next run reads the skipped window");
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

Deno.test("incremental: after an outage it catches up in steps of at most 6 hours", async () => {
  const job = `test-catchup-${run}`;
  const start = await setWatermark(job, 20 * H);
  const first = await incremental(job);
  assertEquals(first.status, "succeeded");
  assertEquals(first.window_start!.getTime(), start.getTime() - 10 * 60_000, "10 minutes of overlap");
  assertEquals(first.window_end!.getTime(), start.getTime() + 6 * H);
  const second = await incremental(job);
  assertEquals(second.window_end!.getTime(), start.getTime() + 12 * H);
  assertEquals((await watermark(job))!.getTime(), start.getTime() + 12 * H);
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

Deno.test.afterAll(() => sql.end());
