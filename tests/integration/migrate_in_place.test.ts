// An existing database migrates to partitioned raw tables in place, its events kept: a scratch
// database on the stack's server gets the migrations from before issue 11 and the demo data
// (supabase/seed.sql, rollups included), then the partitioning migrations. Every raw event, every
// rollup row and every dashboard response must be the same afterwards, and a stored id must still
// be refused as a duplicate. (pg_cron's migrations are skipped: pg_cron lives in the stack's
// `postgres` database only, as in bench/generate.) The scratch database is dropped at the end.
import { assert, assertEquals } from "../_support/assert.ts";
import postgres from "postgres";
import { ENV } from "../_support/env.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
// This branch's migrations (issue 11's range) are what is compared; the later ones (other issues'
// some needing pg_cron) are applied by every `npm start` on top of them.
const FIRST_PARTITIONED = "20261126010000";
const AFTER_PARTITIONED = "20261126020000";
// The compact row (issue 11's storage target): raw_events.analytics_events behind the view.
const FIRST_COMPACT = "20261126110000";
const SEED_BACKFILL = "20261126030000_aggregation_backfill_in_transaction.sql";
const AFTER_COMPACT = "20261126120000";

async function psql(url: string, file: string): Promise<void> {
  const out = await new Deno.Command("psql", {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`psql -f ${file}: ${new TextDecoder().decode(out.stderr)}`);
}

function migrations(from: string, to: string): string[] {
  return [...Deno.readDirSync(`${ROOT}supabase/migrations`)]
    .map((f) => f.name)
    .filter((n) => n.endsWith(".sql") && !n.endsWith("_cron.sql"))
    .filter((n) => n >= from && n < to)
    .sort()
    .map((n) => `${ROOT}supabase/migrations/${n}`);
}

/** What must not change: raw rows, bot rows, every rollup table, the platform dashboard. */
async function snapshot(sql: postgres.Sql) {
  const [raw] = await sql<{ n: number; digest: string }[]>`
    select count(*)::int as n, md5(string_agg(e::text, '|' order by e.id)) as digest
    from (select id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, received_at,
                 country, device, mashup_id, listener_key from public.analytics_events) e`;
  const [bots] = await sql<{ n: number }[]>`select count(*)::int as n from public.analytics_bot_events`;
  const rollups: Record<string, string> = {};
  for (
    const t of [
      "mashup_daily_stats",
      "user_daily_stats",
      "mashup_quarter_hour_stats",
      "mashup_quarter_hour_breakdowns",
      "mashup_play_summaries",
      "mashup_daily_retention",
      "mashup_listeners",
      "mashup_lifetime_stats",
    ]
  ) {
    const [r] = await sql<{ digest: string }[]>`
      select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as digest from ${
      sql("public." + t)
    } x`;
    rollups[t] = r.digest;
  }
  // The typed dashboard function moved to schema dashboard with 20261126065000 (public keeps a
  // text-parameter wrapper): the same function, wherever this schema has it.
  const [{ fn }] = await sql<{ fn: string }[]>`
    select coalesce(to_regprocedure('dashboard.get_creator_dashboard(date, date, text, integer)'),
                    to_regprocedure('public.get_creator_dashboard(date, date, text, integer)'))::regproc::text as fn`;
  const [dash] = await sql.unsafe<{ body: unknown }[]>(
    `select ${fn}(current_date - 60, current_date + 1, 'UTC', 100) as body`,
  );
  return { raw, bots: bots.n, rollups, dashboard: dash.body };
}

Deno.test("an existing database with the demo data migrates to partitions in place, every event and number kept", async () => {
  const name = `migrate_in_place_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
  const url = new URL(ENV.SUPABASE_DB_URL);
  url.pathname = `/${name}`;
  await admin.unsafe(`create database ${name}`);
  const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await psql(url.toString(), `${ROOT}sql/bootstrap.sql`);
    for (const f of migrations("", FIRST_PARTITIONED)) await psql(url.toString(), f);
    // The seed rolls its days up with aggregation.backfill_in_transaction (issue 12's migration,
    // which needs nothing newer than the aggregation functions of before issue 11).
    await psql(url.toString(), `${ROOT}supabase/migrations/${SEED_BACKFILL}`);
    await psql(url.toString(), `${ROOT}supabase/seed.sql`);
    const [{ kind }] = await db<{ kind: string }[]>`
      select relkind::text as kind from pg_class where oid = 'public.analytics_events'::regclass`;
    assertEquals(kind, "r", "before: a plain table");
    const before = await snapshot(db);
    assert(before.raw.n > 10_000, `the demo data is loaded (${before.raw.n} events)`);

    for (const f of migrations(FIRST_PARTITIONED, AFTER_PARTITIONED)) await psql(url.toString(), f);
    const [{ kindAfter }] = await db<{ kindAfter: string }[]>`
      select relkind::text as "kindAfter" from pg_class where oid = 'public.analytics_events'::regclass`;
    assertEquals(kindAfter, "p", "after: partitioned");
    const after = await snapshot(db);
    assertEquals(after, before, "every raw event, bot row, rollup row and the dashboard are unchanged");

    // Then everything up to the compact row (a no-op cron.schedule: pg_cron lives in the stack's
    // postgres database only), and the compact row itself: the view reads back every event equal.
    await db.unsafe(`create schema if not exists cron;
      create or replace function cron.schedule(text, text, text) returns bigint language sql as 'select 0::bigint'`);
    for (const f of migrations(AFTER_PARTITIONED, FIRST_COMPACT)) {
      if (!f.endsWith(SEED_BACKFILL)) await psql(url.toString(), f); // applied before the seed, above
    }
    const beforeCompact = await snapshot(db);
    for (const f of migrations(FIRST_COMPACT, AFTER_COMPACT)) await psql(url.toString(), f);
    const [{ kindCompact }] = await db<{ kindCompact: string }[]>`
      select relkind::text as "kindCompact" from pg_class where oid = 'public.analytics_events'::regclass`;
    assertEquals(kindCompact, "v", "after the compact row: a view");
    assertEquals(beforeCompact.raw, before.raw, "the raw events are the same before the compact row");
    const afterCompact = await snapshot(db);
    assertEquals(afterCompact, beforeCompact, "every raw event, bot row, rollup row and the dashboard are unchanged by the compact row");

    const [ids] = await db<{ n: number }[]>`select count(*)::int as n from public.analytics_event_ids`;
    assertEquals(ids.n, before.raw.n + before.bots, "every migrated event's id is claimed");
    const [stored] = await db<{ id: string; ts: Date }[]>`
      select id, "timestamp" as ts from public.analytics_events order by "timestamp" limit 1`;
    const resent = await db<{ is_new: boolean }[]>`
      select is_new from public.ingest_events(${
      db.json([{
        id: stored.id,
        type: "mashup_liked",
        properties: {},
        session_id: "s",
        timestamp: new Date().toISOString(),
      }])
    }::jsonb)`;
    assertEquals(
      resent.map((r) => r.is_new),
      [false],
      "a migrated id resent in another month is a duplicate",
    );
  } finally {
    await db.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end({ timeout: 5 });
  }
});
