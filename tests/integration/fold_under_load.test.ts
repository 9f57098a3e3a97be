// The rollups stay exact while events keep arriving during the fold, and across a crash of
// PostgreSQL (SIGKILL of this stack's postmaster) in the middle of it (docs/aggregation.md, "What a
// run reads"): writers ingest batches through public.ingest_events (some with retried ids, some in
// transactions held open a second or two before they commit, one rolled back) while a loop runs
// aggregation.run_incremental; the postmaster is killed with -9, supervisord brings it back, writers
// and the fold loop reconnect. Afterwards the queues are drained (events; follow days) and every
// rollup of the whole database is compared with a recount from the raw events (bench/exactness.sql;
// on a difference the rows and what ran meanwhile are printed), every batch the server confirmed is
// stored, no batch is stored in part, and the plays of this run's mashups equal their daily rollups.
import { assert, assertEquals } from "../_support/assert.ts";
import { createUser, sql } from "../_support/db.ts";
import { ENV } from "../_support/env.ts";
import { printUserDailyDiff, rollupMismatches } from "../_support/exactness.ts";
import postgres from "postgres";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const run = crypto.randomUUID().slice(0, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const connect = () => postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });

/** How a lost server or connection shows (postgres.js codes, socket errors, SQLSTATE 57P01-57P03). */
const CRASH_ERRORS = new Set([
  "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "ECONNREFUSED", "ECONNRESET",
  "EPIPE", "57P01", "57P02", "57P03",
]);
type Event = { id: string; type: string; properties: Record<string, unknown>; timestamp: string; session_id: string };
type Batch = { events: Event[]; fresh: Event[]; retried: string[] };
/** What the server said of a batch: committed (confirmed), rolled back, or unknown (the crash cut it off). */
type Outcome = "committed" | "rolled back" | "unknown";

async function postgresAccepts(): Promise<boolean> {
  const out = await new Deno.Command("psql", {
    args: ["-X", "-Atc", "select 1", ENV.SUPABASE_DB_URL],
    env: { PGCONNECT_TIMEOUT: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() === "1";
}

/** The postmaster's pid, or 0 while there is no postmaster.pid (a restarting server removes the old one first). */
function postmasterPid(): number {
  // This checkout's data directory (.stack/db, possibly a symlink); the first line is the postmaster's pid.
  try {
    return Number(Deno.readTextFileSync(`${ROOT}/.stack/db/postmaster.pid`).split("\n")[0]) || 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

// postgres.js (3.4.7) under Deno: a write it deferred with setImmediate can fire after the socket
// closed under it (the postmaster died), and throws outside any query (`socket.write` on null). The
// queries it carried were already rejected by the close, so the writers see their error; only that
// stray throw, from postgres.js's own connection.js, is kept from ending the test run.
function ignoreClientWriteAfterClose(ev: ErrorEvent) {
  const e = ev.error as Error | undefined;
  if (e instanceof TypeError && /reading 'write'/.test(e.message) && /postgres\/src\/connection\.js/.test(e.stack ?? "")) {
    ev.preventDefault();
    strayWrites++;
  }
}
let strayWrites = 0;

Deno.test("rollups stay exact with events arriving during the fold and PostgreSQL killed -9 in the middle", async () => {
  const [{ now: testStart }] = await sql<{ now: Date }[]>`select now()`;
  const creator = await createUser(`fold-load-${run}`);
  const mashups = (await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    select ${creator.id}, 'fold under load ' || n, 180 from generate_series(1, 4) n returning id`).map((r) => r.id);

  const outcomes: { batch: Batch; outcome: Outcome; at: number; error?: string; code?: string }[] = [];
  const confirmed: Event[] = [];
  let stop = false;
  let batchNo = 0;

  function newBatch(): Batch {
    const n = 5 + (batchNo++ % 11);
    const fresh: Event[] = [];
    for (let i = 0; i < n; i++) {
      const mashup = mashups[Math.floor(Math.random() * mashups.length)];
      const type = i % 4 === 3 ? "mashup_liked" : "mashup_played";
      fresh.push({
        id: crypto.randomUUID(),
        type,
        properties: type === "mashup_played"
          ? { mashup_id: mashup, play_id: crypto.randomUUID(), source: ["feed", "search", "share"][i % 3] }
          : { mashup_id: mashup },
        // Within the last few hours, spread over several 15-minute buckets and maybe two UTC days.
        timestamp: new Date(Date.now() - Math.floor(Math.random() * 3 * 3_600_000)).toISOString(),
        session_id: `fold-load-${run}-${Math.floor(Math.random() * 20)}`,
      });
    }
    // Retries: ids of batches the server confirmed, sent again (each must come back is_new = false).
    const retried: Event[] = batchNo % 3 === 0 && confirmed.length > 0
      ? Array.from({ length: 3 }, () => confirmed[Math.floor(Math.random() * confirmed.length)])
      : [];
    return { events: [...fresh, ...retried], fresh, retried: retried.map((e) => e.id) };
  }

  // Answers of ingest_events that contradict the batch (a fresh id not new, a retried id new): kept
  // with what is needed to explain them and failed on after the run, not thrown from a writer (an
  // assertion thrown there ended the run as an uncaught error, with nothing else known).
  const wrongAnswers: { kind: string; sentAt: Date; msSinceKill: number | null; rows: number; newRows: number;
    notNew: string[]; storedAgain: string[] }[] = [];
  async function ingest(tx: postgres.Sql | postgres.TransactionSql, batch: Batch, kind: string) {
    const sentAt = new Date();
    const rows = await tx<{ id: string; is_new: boolean }[]>`
      select id, is_new from public.ingest_events(${tx.json(batch.events as unknown as postgres.JSONValue)}::jsonb)`;
    const newIds = new Set(rows.filter((r) => r.is_new).map((r) => r.id));
    const notNew = batch.fresh.filter((e) => !newIds.has(e.id)).map((e) => e.id);
    const storedAgain = batch.retried.filter((id) => newIds.has(id));
    if (notNew.length > 0 || storedAgain.length > 0) {
      wrongAnswers.push({ kind, sentAt, msSinceKill: killedAt > 0 ? Math.round(performance.now() - killedAt) : null,
        rows: rows.length, newRows: newIds.size, notNew, storedAgain });
    }
  }

  let rolledBackDone = false;
  async function writer(w: number) {
    const db = connect();
    try {
      while (!stop) {
        const batch = newBatch();
        const kind = w === 0 && !rolledBackDone && batchNo > 20 ? "rollback" : w % 2 === 1 && batchNo % 2 === 0 ? "late" : "plain";
        try {
          if (kind === "plain") {
            await ingest(db, batch, kind);
          } else {
            // A transaction gets a client of its own, ended with it. postgres.js's begin() rejects as
            // soon as its connection closes (the crash) but leaves the callback running: its later
            // statements (the ingest, the COMMIT) went to the writer's pool, reconnected by then for
            // the next batch, i.e. to a new session, autocommitted there and interleaved with that
            // batch (seen once: the server's only "there is no transaction in progress" warning, at
            // a COMMIT 0.2 s after the restart, and the next batch got an answer that was not its own).
            // Ended, the client refuses whatever the stranded callback still sends.
            const txdb = connect();
            try {
              await txdb.begin(async (tx) => {
                await ingest(tx, batch, kind);
                await sleep(1000 + Math.random() * 1000); // a late commit: the fold runs meanwhile
                if (kind === "rollback") throw new Error("roll back on purpose");
              });
            } finally {
              await txdb.end({ timeout: 1 });
            }
          }
          outcomes.push({ batch, outcome: "committed", at: performance.now() });
          confirmed.push(...batch.fresh);
        } catch (e) {
          if (kind === "rollback" && (e as Error).message === "roll back on purpose") {
            rolledBackDone = true;
            outcomes.push({ batch, outcome: "rolled back", at: performance.now() });
          } else if ((e as Error).name === "AssertionError") {
            throw e;
          } else {
            outcomes.push({
              batch,
              outcome: "unknown",
              at: performance.now(),
              error: (e as Error).message,
              code: (e as { code?: string }).code,
            }); // the crash: committed or not, never in part
            await sleep(200);
          }
        }
      }
    } finally {
      await db.end({ timeout: 1 });
    }
  }

  const fold = { succeeded: 0, failedCalls: 0, succeededAfterFailure: 0, errors: [] as string[] };
  async function foldLoop() {
    const db = connect();
    try {
      while (!stop) {
        try {
          await db`select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'incremental',
                                                      p_wait => true)`;
          fold.succeeded++;
          if (fold.failedCalls > 0) fold.succeededAfterFailure++;
        } catch (e) {
          fold.failedCalls++;
          fold.errors.push((e as Error).message);
          await sleep(200);
        }
      }
    } finally {
      await db.end({ timeout: 1 });
    }
  }

  let killedAt = 0;
  let backAfterMs = -1;
  async function crash() {
    await sleep(8_000);
    const pid = postmasterPid();
    assert(pid > 0, "the postmaster's pid from this stack's postmaster.pid");
    Deno.kill(pid, "SIGKILL");
    killedAt = performance.now();
    while (performance.now() - killedAt < 30_000) {
      await sleep(250);
      const now = postmasterPid();
      if (now !== 0 && now !== pid && (await postgresAccepts())) {
        backAfterMs = performance.now() - killedAt;
        return;
      }
    }
  }

  globalThis.addEventListener("error", ignoreClientWriteAfterClose);
  const workers = [writer(0), writer(1), writer(2), writer(3), foldLoop()];
  // An error of crash() is kept until the workers have stopped (unawaited, it ended the run as an
  // uncaught error with the writers still running).
  const crashed = crash().then(() => undefined, (e: unknown) => e);
  await sleep(20_000);
  const crashError = await crashed;
  stop = true;
  await Promise.all(workers);
  globalThis.removeEventListener("error", ignoreClientWriteAfterClose);
  if (crashError) throw crashError;
  assert(backAfterMs >= 0, "PostgreSQL was back, accepting connections, within 30 s of the kill");

  // Drain the queue. The shared pool's connections died with the postmaster: a query on one of
  // them fails once, and the pool reconnects.
  for (let i = 0; i < 10; i++) {
    try {
      await sql`select 1`;
    } catch { /* a connection the crash closed */ }
  }
  for (let i = 0; i < 10; i++) {
    await sql`select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'incremental',
                                                 p_wait => true)`;
    const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from aggregation.pending_events`;
    if (n === 0) break;
  }
  assertEquals((await sql<{ n: number }[]>`select count(*)::int as n from aggregation.pending_events`)[0].n, 0,
    "the queue is empty");
  // The other queue: (creator, day) keys a direct follow, unfollow or moved follow queued because a
  // job held the lock (an earlier test's, or the 5-minute job's) wait for pg_cron's `follow-days`,
  // up to a minute; drain it as that job does, so the check below sees what the minute would.
  await sql`select aggregation.run_pending_user_days()`;
  assertEquals((await sql<{ n: number }[]>`select count(*)::int as n from aggregation.pending_user_days`)[0].n, 0,
    "no follow day is queued");
  if (wrongAnswers.length > 0) {
    const ids = wrongAnswers.flatMap((w) => [...w.notNew, ...w.storedAgain]);
    const found = await sql`select id, received_at, event_type from public.analytics_events where id = any(${ids}::uuid[])`;
    console.error(`fold_under_load: ingest answers that contradict their batch:\n${Deno.inspect(wrongAnswers, { depth: 4 })}\n` +
      `those ids in the raw events now:\n${Deno.inspect([...found], { depth: 4 })}`);
  }
  assertEquals(wrongAnswers.length, 0, "every fresh event is stored as new and no retried id is stored again");

  // Every rollup of the whole database against a recount (bench/exactness.sql); on a difference the
  // rows and what ran meanwhile are printed from inside the check's transaction.
  const mismatches = await rollupMismatches((tx, rollups) => printMismatchDetail(tx, rollups, testStart));
  assertEquals(mismatches, [], "every rollup equals a recount from the raw events");

  // Every confirmed batch is stored whole; the rolled back one not at all; a batch the crash cut off
  // is stored whole or not at all.
  const allIds = outcomes.flatMap((o) => o.batch.fresh.map((e) => e.id));
  const stored = new Set((await sql<{ id: string }[]>`
    select id from public.analytics_events where id = any(${allIds}::uuid[])`).map((r) => r.id));
  let expectedPlays = 0;
  const counts: Record<Outcome, number> = { committed: 0, "rolled back": 0, unknown: 0 };
  for (const { batch, outcome, at } of outcomes) {
    counts[outcome]++;
    const here = batch.fresh.filter((e) => stored.has(e.id)).length;
    if (outcome === "committed") assertEquals(here, batch.fresh.length, "a confirmed batch is stored whole");
    if (outcome === "rolled back") assertEquals(here, 0, "the rolled back batch is not stored");
    if (outcome === "unknown") {
      // Only the crash may cut a batch off: any other error is a failure of its own.
      const { error, code } = outcomes.find((o) => o.batch === batch)!;
      assert(killedAt > 0 && at >= killedAt && CRASH_ERRORS.has(code ?? ""),
        `a batch failed other than by the crash (${Math.round(at - killedAt)} ms after the kill, back after ` +
          `${Math.round(backAfterMs)} ms): ${code} ${error}`);
    }
    if (outcome === "unknown") assert(here === 0 || here === batch.fresh.length, `a cut-off batch: ${here}/${batch.fresh.length}`);
    if (here > 0) expectedPlays += batch.fresh.filter((e) => e.type === "mashup_played").length;
  }
  assertEquals(counts["rolled back"], 1, "one batch was rolled back");
  assert(counts.committed > 20, `writers kept committing (${JSON.stringify(counts)})`);

  const [{ raw }] = await sql<{ raw: number }[]>`select count(*)::int as raw from public.analytics_events
    where event_type = 'mashup_played' and mashup_id = any(${mashups}::uuid[])`;
  const [{ rolled }] = await sql<{ rolled: number }[]>`select coalesce(sum(plays), 0)::int as rolled
    from public.mashup_daily_stats where mashup_id = any(${mashups}::uuid[])`;
  assertEquals(raw, expectedPlays, "the stored plays are exactly the confirmed ones (and the cut-off batches kept whole)");
  assertEquals(rolled, raw, "the daily rollups count every stored play once");

  // A run the crash interrupted (its transaction, run row included, rolled back) was followed by
  // runs that succeeded.
  const runs = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from aggregation.runs
    where job = 'incremental' and started_at >= ${testStart} group by 1`;
  const byStatus = Object.fromEntries(runs.map((r) => [r.status, r.n]));
  assert(
    fold.failedCalls > 0,
    `the kill cut off a fold call (if it fell between two runs none was cut off: ${JSON.stringify(fold)})`,
  );
  assert(fold.succeededAfterFailure > 0, `fold runs succeeded after the crash: ${JSON.stringify(fold)}`);
  assert((byStatus.succeeded ?? 0) > 0, `aggregation.runs logs succeeded runs: ${JSON.stringify(byStatus)}`);
  assertEquals(byStatus.failed ?? 0, 0, `no run failed other than by the crash: ${JSON.stringify(byStatus)}`);
  console.log(`fold_under_load: batches ${JSON.stringify(counts)}, plays ${raw}, fold calls ${fold.succeeded} ok / ` +
    `${fold.failedCalls} cut off (first: ${fold.errors[0]}), postgres back after ${Math.round(backAfterMs)} ms, ${strayWrites} stray client writes, runs ${JSON.stringify(byStatus)}`);
});

/**
 * What a failed exactness check needs to be understood, printed before anything else runs: the
 * user_daily_stats rows that differ (key, stored, recounted; the user's email names the test that
 * made the user), what is still queued (fold queue, follow days), and what else wrote meanwhile:
 * pg_cron's job runs and aggregation runs since this test began, and the test users this `npm test`
 * run created so far (the tests that ran before this one). Called inside the check's transaction.
 */
async function printMismatchDetail(tx: postgres.TransactionSql, rollups: string[], since: Date) {
  const show = (title: string, rows: unknown[]) =>
    console.error(`fold_under_load mismatch detail: ${title}\n${rows.length ? Deno.inspect(rows, { depth: 4 }) : "  (none)"}`);
  if (rollups.includes("user_daily_stats")) {
    const diff = await printUserDailyDiff(tx, rollups);
    const users = [...new Set(diff.map((r) => r.user_id))];
    show("follows of those users (as creator)", [...await tx`
      select creator_id, follower_id, created_at from public.follows where creator_id = any(${users}::uuid[])
      order by creator_id, created_at`]);
  }
  show("queued user days (aggregation.pending_user_days)", [...await tx`select * from aggregation.pending_user_days`]);
  show("queued events (aggregation.pending_events)", [...await tx`
    select event_type, count(*)::int as n, min(received_at) as oldest from aggregation.pending_events group by 1`]);
  show("pg_cron job runs since this test began", [...await tx`
    select j.jobname, d.status, d.start_time, d.end_time, d.return_message
    from cron.job_run_details d join cron.job j using (jobid) where d.start_time >= ${since} order by d.start_time`]);
  show("aggregation runs since this test began, by job and status", [...await tx`
    select job, status, count(*)::int as n, min(started_at) as first, max(started_at) as last, max(error) as error
    from aggregation.runs where started_at >= ${since} group by 1, 2 order by 1, 2`]);
  const runStart = Deno.env.get("TEST_RUN_STARTED_AT");
  if (runStart) {
    show("test users created in this npm test run (by the email's label: the tests that ran before)", [...await tx`
      select regexp_replace(email, '-[0-9a-f]{8}@test[.]local$', '') as label, count(*)::int as users,
             min(created_at) as first
      from auth.users where email like '%@test.local' and created_at >= ${runStart}::timestamptz
      group by 1 order by 3`]);
  }
}
