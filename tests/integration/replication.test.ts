// The raw-event publication works end to end: a second local PostgreSQL subscribes to
// analytics_raw_events and receives new events stored through the track function and the ingest
// RPC, from more than one monthly partition (published as the parent), bot rows too, and an
// erasure's deletes. The subscriber lives on the stack's port block and is removed afterwards.
import { assertEquals } from "../_support/assert.ts";
import { serviceClient } from "../_support/env.ts";
import { sql } from "../_support/db.ts";
import { startSubscriber } from "../_support/subscriber.ts";
import { track, UA, uuid, validEvent } from "../_support/track.ts";

async function waitFor<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(value)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test("a second PostgreSQL subscribed to the raw-event publication receives new events of every partition, and erasures", async () => {
  const subscriber = await startSubscriber();
  try {
    const anonymousId = `anon-repl-${uuid()}`;
    const now = validEvent("mashup_played", { anonymous_id: anonymousId });
    const bot = validEvent("mashup_liked", { anonymous_id: anonymousId });
    const res = await track({ events: [now] });
    assertEquals(res.body.accepted, 1);
    const botRes = await track({ events: [bot] }, { headers: { "User-Agent": UA.googlebot } });
    assertEquals(botRes.body.ignored, 1);

    // A late event two months back (an importer's service-role RPC call): another partition.
    const lateId = uuid();
    const [late] = await sql<{ ts: Date }[]>`
      select (date_trunc('month', now() at time zone 'UTC') - interval '2 months' + interval '5 days')
               at time zone 'UTC' as ts`;
    const { data, error } = await serviceClient().rpc("ingest_events", {
      events: [{
        id: lateId,
        type: "mashup_liked",
        properties: { mashup_id: uuid() },
        anonymous_id: anonymousId,
        timestamp: late.ts.toISOString(),
      }],
    });
    assertEquals(error, null);
    assertEquals((data as { is_new: boolean }[])[0].is_new, true);
    const partitions = await sql<{ p: string }[]>`
      select distinct tableoid::regclass::text as p from raw_events.analytics_events where id in (${now.id}, ${lateId})`;
    assertEquals(partitions.length, 2, "the publisher stored them in two monthly partitions");

    const received = await waitFor(
      "the subscriber to receive both events",
      () =>
        subscriber.sql<{ id: string; listener_key: string; timestamp: Date }[]>`
          select id, listener_key, "timestamp" from public.analytics_events
          where id in (${now.id}, ${lateId}) order by "timestamp"`,
      (rows) => rows.length === 2,
    );
    assertEquals(received.map((r) => r.id), [lateId, now.id]);
    assertEquals(received.map((r) => r.listener_key), [`a:${anonymousId}`, `a:${anonymousId}`]);
    assertEquals(received[0].timestamp.getTime(), late.ts.getTime());
    await waitFor(
      "the bot row",
      () =>
        subscriber.sql<
          { n: number }[]
        >`select count(*)::int as n from public.analytics_bot_events where id = ${bot.id}`,
      (rows) => rows[0].n === 1,
    );

    // Erasure deletes reach the subscriber too.
    const erased = await serviceClient().rpc("erase_listener", { p_anonymous_id: anonymousId });
    assertEquals(erased.error, null);
    await waitFor(
      "the erasure to replicate",
      () =>
        subscriber.sql<{ n: number }[]>`select count(*)::int as n from public.analytics_events
                                         where anonymous_id = ${anonymousId}`,
      (rows) => rows[0].n === 0,
    );
  } finally {
    await subscriber.stop();
  }
  const [slots] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_replication_slots where slot_name = ${subscriber.subscription}`;
  assertEquals(slots.n, 0, "no replication slot is left behind on the stack's server");
});
