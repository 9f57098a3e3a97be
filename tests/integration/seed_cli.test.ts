// The seed through the pinned Supabase CLI, the way it reaches a hosted project: `db push
// --include-seed` and `db reset` against a scratch database of the local server, which then holds
// the same demo data as the database `npm start` seeded (same users, mashups, follows and raw
// events, row for row; the rollups computed from them).
//
// The scratch database is called contrib_regression: pg_cron's extension script may only be run in
// cron.database_name, except in that one database name (the migrations create pg_cron). Its jobs
// never run there: pg_cron's scheduler reads only cron.database_name.
// The seed hangs every timestamp from one clock, `seed.now` when the database sets it: the scratch
// database gets the clock npm start's seed ran at, read back from the data (the seed sets its users'
// updated_at to it). The stack moves the demo data forward when it is old (sql/reanchor_demo_data.sql,
// which tests also exercise): every seeded row by the same interval, so the demo creator's
// created_at + 200 days is the anchor now. The scratch database's seed is moved the same way.
import postgres from "postgres";
import { assert, assertEquals } from "../_support/assert.ts";
import { ENV } from "../_support/env.ts";
import { sql as mainSql } from "../_support/db.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCRATCH = "contrib_regression";
const scratchUrl = ENV.SUPABASE_DB_URL.replace(/\/postgres(\?|$)/, `/${SCRATCH}$1`);
// The CLI treats a --db-url at 127.0.0.1 on config.toml's [db] port (the default STACK_PORT block) as its
// own Docker stack and wants Docker for `db reset`; the same server named `localhost` is a remote
// database to it, as a hosted project is.
const cliScratchUrl = scratchUrl.replace("@127.0.0.1:", "@localhost:");
const DEMO_ID = "11111111-1111-4111-8111-111111111111";

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, env, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${text}`);
  return text;
}
const cli = (...args: string[]) => run("npx", ["--no-install", "supabase", ...args]);

/** The demo data, as rows that do not depend on when or where it was loaded. */
async function demoData(sql: postgres.Sql, anchor: string) {
  // The seed's rows only (other tests add their own to the main database, some backdated): its
  // users (@mashups.local), its mashups (ids md5('mashup-<n>')), follows among its users, and events
  // with its session ids that arrived no later than its clock.
  const users = await sql`
    select id, email, aud, role, created_at, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
           -- '' (never NULL): hosted GoTrue cannot sign in a user whose tokens are NULL (supabase/auth#1940)
           confirmation_token, recovery_token, email_change_token_new, email_change
    from auth.users where email like '%@mashups.local' order by id`;
  const mashups = await sql`
    select id, creator_id, title, duration_seconds, created_at from public.mashups
    where id in (select md5('mashup-' || n)::uuid from generate_series(1, 42) as n)
    order by id`;
  const follows = await sql`
    select follower_id, creator_id, created_at from public.follows f
    where created_at <= ${anchor}::timestamptz
      and exists (select 1 from auth.users u where u.id = f.follower_id and u.email like '%@mashups.local')
      and exists (select 1 from auth.users u where u.id = f.creator_id and u.email like '%@mashups.local')
    order by follower_id, creator_id`;
  const seedEvent = sql`received_at <= ${anchor}::timestamptz
    and session_id ~ '^sess-([0-9a-f]{16}|create-[0-9]+|follow-[0-9a-f]{12}|upgrade-[0-9]+)$'`;
  const [events] = await sql`
    select count(*)::int as n,
           md5(string_agg(concat_ws('|', event_type, user_id, anonymous_id, session_id, mashup_id, "timestamp",
                                    received_at, country, device, properties::text), E'\n'
                          order by "timestamp", event_type, session_id, properties::text)) as digest
    from public.analytics_events where ${seedEvent}`;
  const byType = await sql`
    select event_type, count(*)::int as n from public.analytics_events where ${seedEvent} group by 1 order by 1`;
  return { users, mashups, follows, events, byType };
}

/** What sql/reanchor_demo_data.sql does to the seed's rows: moves them by the same interval. */
async function moveSeed(sql: postgres.Sql, from: string, to: string) {
  await sql.begin(async (tx) => {
    const shift = tx`(${to}::timestamptz - ${from}::timestamptz)`;
    const users = tx`(select id from auth.users where email like '%@mashups.local' and created_at <= ${from}::timestamptz)`;
    const mashups = tx`(select id from public.mashups where creator_id in ${users} and created_at <= ${from}::timestamptz)`;
    await tx`update public.analytics_events set "timestamp" = "timestamp" + ${shift}, received_at = received_at + ${shift}
             where received_at <= ${from}::timestamptz and (mashup_id in ${mashups} or user_id in ${users})`;
    await tx`update public.follows set created_at = created_at + ${shift}
             where follower_id in ${users} and created_at <= ${from}::timestamptz`;
    await tx`update public.mashups set created_at = created_at + ${shift} where id in ${mashups}`;
    await tx`update auth.users set created_at = created_at + ${shift}, email_confirmed_at = email_confirmed_at + ${shift}
             where id in ${users}`;
  });
}

Deno.test({
  name: "seed: the pinned CLI's db push --include-seed and db reset load npm start's demo data into a scratch database",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const [{ loaded, anchor }] = await mainSql`
      select updated_at::text as loaded, (created_at + interval '200 days')::text as anchor
      from auth.users where id = ${DEMO_ID}`;
    assert(loaded && anchor, "npm start seeded the demo creator");
    const main = await demoData(mainSql, anchor);
    assert(main.events.n > 10_000 && main.mashups.length === 42 && main.users.length === 306, "npm start's demo data");
    assert(
      main.users.every((u) =>
        [u.confirmation_token, u.recovery_token, u.email_change_token_new, u.email_change].every((t) => t === "")
      ),
      "every demo user's token columns are '' (hosted GoTrue cannot sign in a user whose tokens are NULL)",
    );

    await mainSql.unsafe(`drop database if exists ${SCRATCH} with (force)`);
    await mainSql.unsafe(`create database ${SCRATCH}`);
    // What Supabase's platform provides on a hosted project (roles exist server-wide already).
    await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", scratchUrl.replace("?sslmode=disable", ""), "-f", "sql/bootstrap.sql"]);
    await mainSql.unsafe(`alter database ${SCRATCH} set seed.now = '${loaded}'`);
    const scratch = postgres(scratchUrl, { max: 2, onnotice: () => {} });
    try {
      const pushed = await cli("db", "push", "--db-url", cliScratchUrl, "--include-seed", "--yes");
      assert(pushed.includes("Seeding data from supabase/seed.sql"), pushed);
      // The seed's backfill ran inside the CLI's transaction: every seeded play is in the rollups.
      const [{ plays, rolled }] = await scratch`
        select (select count(*)::int from public.analytics_events where event_type = 'mashup_played') as plays,
               (select coalesce(sum(plays), 0)::int from public.mashup_daily_stats) as rolled`;
      assertEquals(rolled, plays);
      const [{ status }] = await scratch`select status from aggregation.backfills order by id desc limit 1`;
      assertEquals(status, "succeeded");

      if (anchor !== loaded) await moveSeed(scratch, loaded, anchor);
      assertEquals(await demoData(scratch, anchor), main);

      // db reset: drops what the migrations made, applies them again, then the seed.
      const reset = await cli("db", "reset", "--db-url", cliScratchUrl, "--yes");
      assert(reset.includes("Seeding data from supabase/seed.sql"), reset);
      if (anchor !== loaded) await moveSeed(scratch, loaded, anchor);
      assertEquals(await demoData(scratch, anchor), main);
    } finally {
      await scratch.end();
      await mainSql.unsafe(`drop database if exists ${SCRATCH} with (force)`);
    }
  },
});
