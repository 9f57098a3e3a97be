// Tests must not damage the stack they run on, nor slow the next run down: what they create is
// removed (tests/_support/cleanup.sql, run by `npm test` before and after the suites), and the
// demo data is never part of it.
import { assertEquals } from "../_support/assert.ts";
import { DEMO_ID, ENV } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("the test-data cleanup removes test users with everything of theirs and nothing else", async () => {
  const run = crypto.randomUUID().slice(0, 8);
  const user = await createUser(`hygiene-${run}`);
  const [m] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${user.id}, 'hygiene mix', 120) returning id`;
  await sql`insert into public.analytics_events (event_type, properties, anonymous_id, session_id)
    values ('mashup_played', ${sql.json({ mashup_id: m.id })}, ${`hygiene-${run}`}, 's'),
           ('user_followed', ${sql.json({ creator_id: user.id })}, ${`hygiene-${run}`}, 's')`;
  await sql`call aggregation.backfill(current_date, current_date + 1)`;
  const demoBefore = await sql`select count(*)::int as n from public.analytics_events e
    join public.mashups x on x.id = e.mashup_id where x.creator_id = ${DEMO_ID}`;

  const out = await new Deno.Command("psql", {
    args: ["-X", "-q", ENV.SUPABASE_DB_URL, "-v", `pattern=hygiene-${run}-%`, "-f", "tests/_support/cleanup.sql"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));

  const [left] = await sql<{ users: number; mashups: number; events: number; rollups: number }[]>`
    select (select count(*)::int from auth.users where id = ${user.id}) as users,
           (select count(*)::int from public.mashups where id = ${m.id}) as mashups,
           (select count(*)::int from public.analytics_events where anonymous_id = ${`hygiene-${run}`}) as events,
           (select count(*)::int from public.mashup_daily_stats where mashup_id = ${m.id}) as rollups`;
  assertEquals(left, { users: 0, mashups: 0, events: 0, rollups: 0 });
  const demoAfter = await sql`select count(*)::int as n from public.analytics_events e
    join public.mashups x on x.id = e.mashup_id where x.creator_id = ${DEMO_ID}`;
  assertEquals(demoAfter[0].n, demoBefore[0].n, "the demo data is untouched");
});

Deno.test("nothing of an earlier test run is left on the stack when npm test starts", async () => {
  // npm test records when this run started; run alone (deno test), the check covers all test users
  // older than an hour.
  const started = Deno.env.get("TEST_RUN_STARTED_AT") ?? new Date(Date.now() - 3600_000).toISOString();
  const [r] = await sql<{ n: number }[]>`select count(*)::int as n from auth.users
    where email like '%@test.local' and created_at < ${started}::timestamptz`;
  assertEquals(r.n, 0, `test users created before ${started} are still there`);
});
