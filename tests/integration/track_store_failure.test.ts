// ingestion.md's promise when the database fails: the batch answers 500 naming `events` (503 with
// Retry-After when the database is unavailable), nothing of it is stored, and the client's retry
// with the same ids stores each event once. The failures are made for each test only: a constraint
// refusing its own session id, a backend killed during the commit, the database stopped.
import postgres from "postgres";
import { assert, assertEquals } from "../_support/assert.ts";
import { endSql, sql } from "../_support/db.ts";
import { ENV } from "../_support/env.ts";
import { storedEvents, track, validEvent } from "../_support/track.ts";
import { supervisorctl } from "../_support/stack.ts";
import { DEMO_TOKEN, userClient } from "../_support/env.ts";

/** Three events of a session of their own, which the test's failure is keyed on. */
function batchOf(prefix: string) {
  const run = crypto.randomUUID().slice(0, 8);
  const session = `${prefix}-${run}`;
  const types = ["mashup_liked", "mashup_played", "mashup_shared"] as const;
  const events = types.map((type) => validEvent(type, { session_id: session }));
  return { run, session, events, ids: events.map((e) => e.id) };
}

Deno.test("the database fails: 500 naming events, nothing stored; the retry with the same ids stores each once", async () => {
  const { run, session, events, ids } = batchOf("db-fail");
  await sql.unsafe(`alter table raw_events.analytics_events add constraint test_store_failure_${run}
    check (session_id is distinct from '${session}') not valid`);
  try {
    const failed = await track({ events });
    assertEquals([failed.status, failed.body], [500, {
      error: "storing the events failed; retry with the same event ids",
      field: "events",
    }]);
    assertEquals(await storedEvents(ids), [], "nothing of the batch is stored");
  } finally {
    await sql.unsafe(`alter table raw_events.analytics_events drop constraint test_store_failure_${run}`);
  }
  const retry = await track({ events });
  assertEquals([retry.status, retry.body], [200, { accepted: 3, duplicates: 0, rejected: [], ignored: 0 }]);
  const again = await track({ events });
  assertEquals([again.status, again.body], [200, { accepted: 0, duplicates: 3, rejected: [], ignored: 0 }]);
  assertEquals((await storedEvents(ids)).length, 3, "each event stored once");
});

Deno.test({
  name: "a crash during the commit is a 503 to retry, never a 200 for events that were not stored; the retry stores them once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The commit of this batch is held for 3 s (a deferred trigger on its session id); meanwhile
    // another backend is killed with SIGKILL, so PostgreSQL restarts and rolls the batch back. Track
    // stored it as one autocommitted statement and answered with its rows, which arrive before the
    // commit: a 200, every event "accepted", none stored (found from outside under load).
    const { run, session, events, ids } = batchOf("db-crash");
    await sql.unsafe(`
      create function public.test_slow_commit_${run}() returns trigger language plpgsql set search_path = '' as $$
      begin perform pg_sleep(3); return null; end $$;
      create constraint trigger test_slow_commit_${run} after insert on raw_events.analytics_events
        deferrable initially deferred for each row when (new.session_id = '${session}')
        execute function public.test_slow_commit_${run}();`);
    const victim = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
    const dropTrigger = () =>
      sql.unsafe(`drop trigger if exists test_slow_commit_${run} on raw_events.analytics_events;
        drop function if exists public.test_slow_commit_${run}();`);
    try {
      const [{ pid }] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const answer = track({ events });
      await new Promise((r) => setTimeout(r, 1000)); // the batch is in its commit by now
      const killed = await new Deno.Command("kill", { args: ["-9", String(pid)] }).output();
      assert(killed.success, "killed a backend of this stack");
      const crashed = await answer;
      // The crash ends every backend (57P02) or the connection: the database is unavailable, a 503.
      assertEquals([crashed.status, crashed.body.field], [503, "events"], JSON.stringify(crashed.body));
      assertEquals(crashed.headers.get("retry-after"), "5");
    } finally {
      await victim.end({ timeout: 1 }).catch(() => {});
      await untilDatabaseAnswers();
      await dropTrigger();
    }
    assertEquals(await storedEvents(ids), [], "nothing of the batch is stored");
    let retry = await track({ events });
    // The function's own pool may still hold a connection from before the restart: its first use fails.
    for (let i = 0; retry.status >= 500 && i < 5; i++) retry = await track({ events });
    assertEquals([retry.status, retry.body], [200, { accepted: 3, duplicates: 0, rejected: [], ignored: 0 }]);
    assertEquals((await storedEvents(ids)).length, 3, "each event stored once");
  },
});

Deno.test({
  name: "the database stopped: track and analytics answer 503 with Retry-After, live numbers still answer; once it is back the retry stores each event once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { events, ids } = batchOf("db-down");
    const creator = userClient(DEMO_TOKEN);
    const dashboard = () => creator.functions.invoke("analytics/dashboard?start=2026-01-01&end=2026-01-31", { method: "GET" });
    await supervisorctl("stop", "postgres");
    try {
      const stored = await track({ events });
      assertEquals([stored.status, stored.body as unknown], [503, {
        error: "the database is unavailable; retry with the same event ids",
        field: "events",
        retry_after: 5,
      }]);
      assertEquals(stored.headers.get("retry-after"), "5");

      const read = await dashboard();
      const response = (read.error as { context?: Response } | null)?.context;
      assertEquals(response?.status, 503, `dashboard while the database is down: ${JSON.stringify(read.error)}`);
      assertEquals([response!.headers.get("retry-after"), await response!.json()], ["5", {
        error: "the database is unavailable; retry shortly",
        retry_after: 5,
      }]);

      // The live panel reads Redis: it answers without the database.
      const live = await creator.functions.invoke("analytics/realtime", { method: "GET" });
      assertEquals(live.error, null, `realtime while the database is down: ${JSON.stringify(live.error)}`);
    } finally {
      await supervisorctl("start", "postgres");
      await untilDatabaseAnswers();
    }
    let retry = await track({ events });
    // The function's pool may still hold a connection from before the stop: its first use fails.
    for (let i = 0; retry.status >= 500 && i < 5; i++) retry = await track({ events });
    assertEquals([retry.status, retry.body], [200, { accepted: 3, duplicates: 0, rejected: [], ignored: 0 }]);
    assertEquals((await storedEvents(ids)).length, 3, "each event stored once");
    let read = await dashboard();
    for (let i = 0; read.error && i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500)); // PostgREST reconnects on its own schedule
      read = await dashboard();
    }
    assertEquals(read.error, null, `dashboard once the database is back: ${JSON.stringify(read.error)}`);
  },
});

/** PostgreSQL recovers from a killed backend on its own (the postmaster restarts the others). */
async function untilDatabaseAnswers() {
  for (let i = 0;; i++) {
    try {
      await sql`select 1`;
      return;
    } catch (e) {
      if (i > 60) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

Deno.test.afterAll(endSql);
