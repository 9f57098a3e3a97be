// A late event from before the raw-event retention horizon (raw_events.horizon(), default: the
// current UTC month and 13 whole months before it): the track function refuses it by name, stores
// the batch's other events, and a late event inside the horizon is still taken.
import { assert, assertEquals } from "../_support/assert.ts";
import { sql } from "../_support/db.ts";
import { storedEvents, track, validEvent } from "../_support/track.ts";
import { SERVICE_KEY } from "../_support/env.ts";

async function horizon(): Promise<number> {
  const [row] = await sql<{ horizon: Date }[]>`select raw_events.horizon() as horizon`;
  return row.horizon.getTime();
}

Deno.test("an event older than the retention horizon is refused with its field named; the batch's others are stored", async () => {
  const kept = await horizon();
  const iso = (ms: number) => new Date(ms).toISOString();
  const beforeHorizon = validEvent("mashup_played", { timestamp: iso(kept - 1000) });
  const longBefore = validEvent("mashup_liked", { timestamp: iso(kept - 400 * 86_400_000) });
  // Eight days late but inside the horizon: stored at receive time, as before.
  const insideHorizon = validEvent("mashup_liked", { timestamp: iso(Date.now() - 8 * 86_400_000) });
  const res = await track({ events: [insideHorizon, beforeHorizon, longBefore] });

  assertEquals(res.status, 200);
  assertEquals(res.body.accepted, 1);
  assertEquals(res.body.duplicates, 0);
  assertEquals(res.body.rejected.map((r) => r.index), [1, 2]);
  for (const r of res.body.rejected) {
    assert(new RegExp(`^events\\[${r.index}\\]\\.timestamp: .*retention horizon`).test(r.error), r.error);
  }
  assertEquals(
    (await storedEvents([beforeHorizon.id, longBefore.id])).length,
    0,
    "refused events are not stored",
  );
  assertEquals((await storedEvents([insideHorizon.id])).length, 1);

  // Sent again: the same clear answer (not a duplicate), and nothing breaks.
  const again = await track({ events: [beforeHorizon] });
  assertEquals(again.status, 400);
  assertEquals(again.body.rejected.map((r) => r.index), [0]);
  assertEquals(again.body.duplicates, 0);
});

Deno.test("an operator who keeps 24 months gets the service role's 20-month-old events stored; a dropped month stays refused", async () => {
  const [before] = await sql<{ retention_months: number; dropped_through: Date | null }[]>`
    select retention_months, dropped_through from raw_events.settings`;
  const iso = (ms: number) => new Date(ms).toISOString();
  const twentyMonthsBack = new Date();
  twentyMonthsBack.setUTCMonth(twentyMonthsBack.getUTCMonth() - 20);
  const old = validEvent("mashup_liked", { timestamp: iso(twentyMonthsBack.getTime()) });
  const partitions = async () =>
    (await sql<{ name: string }[]>`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent in ('raw_events.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)`)
      .map((r) => r.name);
  const kept = new Set(await partitions());
  try {
    // A database that dropped nothing yet; the setting as an operator changes it. The month has no
    // partition until its first event arrives: the batch creates it (20261127002400), without waiting
    // for the daily maintenance's ensure_partitions.
    await sql`update raw_events.settings set retention_months = 24, dropped_through = null`;
    const month = `analytics_events_p${iso(twentyMonthsBack.getTime()).slice(0, 7).replace("-", "")}`;
    assertEquals((await partitions()).includes(month), false, `${month} does not exist before the event`);
    const res = await track({ events: [old] }, { token: SERVICE_KEY });
    assertEquals([res.status, res.body.accepted, res.body.rejected], [200, 1, []], JSON.stringify(res.body));
    assert((await partitions()).includes(month), `${month} was created by the batch`);
    const [stored] = await storedEvents([old.id]);
    assertEquals(new Date(stored.timestamp).getTime(), twentyMonthsBack.getTime(), "stored on its own day");

    // Once a month was dropped, raising retention again does not reopen it.
    const dropped = new Date(Date.UTC(twentyMonthsBack.getUTCFullYear(), twentyMonthsBack.getUTCMonth() + 2, 1));
    await sql`update raw_events.settings set dropped_through = ${dropped}`;
    const again = validEvent("mashup_liked", { timestamp: iso(twentyMonthsBack.getTime() + 86_400_000) });
    const refused = await track({ events: [again] }, { token: SERVICE_KEY });
    assertEquals(refused.body.rejected.map((r) => r.index), [0]);
    assert(/retention horizon/.test(refused.body.rejected[0].error), refused.body.rejected[0].error);
  } finally {
    await sql`update raw_events.settings set retention_months = ${before.retention_months},
                                            dropped_through = ${before.dropped_through}`;
    await sql`with gone as (delete from public.analytics_events where id = ${old.id} returning id)
              delete from public.analytics_event_ids where id in (select id from gone)`;
    await sql`select aggregation.forget_events(${[old.id]}::uuid[])`;
    // The months this test made exist (empty again) go, so later suites plan over what they expect.
    for (const name of (await partitions()).filter((n) => !kept.has(n))) {
      await sql.unsafe(`drop table raw_events.${name}`);
    }
  }
});
