// ingestion.md's promise when the database fails: the batch answers 500 naming `events`, nothing of
// it is stored, and the client's retry with the same ids stores each event once. The failure is a
// constraint added for this test only (refusing its own session id), removed before the retry.
import { assertEquals } from "../_support/assert.ts";
import { sql } from "../_support/db.ts";
import { storedEvents, track, validEvent } from "../_support/track.ts";

Deno.test("the database fails: 500 naming events, nothing stored; the retry with the same ids stores each once", async () => {
  const run = crypto.randomUUID().slice(0, 8);
  const session = `db-fail-${run}`;
  const events = [
    validEvent("mashup_liked", { session_id: session }),
    validEvent("mashup_played", { session_id: session }),
    validEvent("mashup_shared", { session_id: session }),
  ];
  const ids = events.map((e) => e.id);
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

Deno.test.afterAll(() => sql.end());
