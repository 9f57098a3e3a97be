// Exactly-once across monthly partitions under concurrency (issue 11): the same client event id
// sent by two sessions at once, with times in two different months (so two different partitions),
// is stored once. The second session waits on the id's claim (public.analytics_event_ids) until the
// first commits, then finds it claimed. Both writer paths that claim are covered: ingest_events
// (what track calls) and an INSERT through the view public.analytics_events (seeds, imports).
import { assertEquals } from "../_support/assert.ts";
import postgres from "postgres";
import { ENV } from "../_support/env.ts";

type Sql = postgres.Sql;

function connect(): Sql {
  return postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
}

/** Waits until the backend `pid` waits on a lock (the id's claim held by the other transaction). */
async function waitUntilBlocked(observer: Sql, pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await observer<{ waiting: boolean }[]>`
      select coalesce(wait_event_type = 'Lock', false) as waiting from pg_stat_activity where pid = ${pid}`;
    if (row?.waiting) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`backend ${pid} never waited on the other transaction's claim`);
}

function monthsAgo(months: number, day: number): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months, day, 12, 0, 0));
}

const writers: Record<string, (sql: Sql, id: string, session: string, at: Date) => Promise<boolean>> = {
  ingest_events: async (sql, id, session, at) => {
    const rows = await sql<{ is_new: boolean }[]>`
      select is_new from public.ingest_events(${
      sql.json([{ id, type: "mashup_liked", properties: { n: 1 }, session_id: session, timestamp: at.toISOString() }])
    }::jsonb)`;
    return rows[0].is_new;
  },
  "insert into the view": async (sql, id, session, at) => {
    const rows = await sql`
      insert into public.analytics_events (id, event_type, properties, "timestamp", session_id)
      values (${id}, 'mashup_liked', '{"n": 2}', ${at}, ${session}) returning id`;
    return rows.length === 1;
  },
};

for (const [name, write] of Object.entries(writers)) {
  Deno.test(`one id sent at once by two sessions into two months is stored once (${name})`, async () => {
    const first = connect();
    const second = connect();
    const observer = connect();
    const id = crypto.randomUUID();
    const session = `dedup-concurrent-${id.slice(0, 8)}`;
    try {
      const [{ pid }] = await second<{ pid: number }[]>`select pg_backend_pid() as pid`;
      let secondResult: Promise<boolean> | undefined;
      await first.begin(async (tx) => {
        assertEquals(await write(tx as unknown as Sql, id, session, monthsAgo(0, 1)), true, "the first session stores it");
        // The second session sends the same id with a time two months earlier: another partition.
        secondResult = write(second, id, session, monthsAgo(2, 3));
        await waitUntilBlocked(observer, pid);
      });
      assertEquals(await secondResult, false, "the second session finds the id claimed once the first commits");
      const stored = await observer<{ partition: string }[]>`
        select tableoid::regclass::text as partition from raw_events.analytics_events where id = ${id}`;
      assertEquals(stored.length, 1, "one row for the id, in all months");
      assertEquals(
        stored[0].partition,
        `raw_events.analytics_events_p${monthsAgo(0, 1).toISOString().slice(0, 7).replace("-", "")}`,
        "in the first session's month",
      );
    } finally {
      await observer`
        with removed as (delete from public.analytics_events where session_id = ${session} returning id)
        delete from public.analytics_event_ids where id in (select id from removed)`;
      await Promise.all([first.end(), second.end(), observer.end()]);
    }
  });
}
