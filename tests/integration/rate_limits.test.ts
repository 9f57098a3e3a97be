// Rate limits on track (functions/track/rate_limit.ts) with the stack's default settings: per
// client IP a bucket of 3000 events refilled 50 a second, per anonymous id 120 refilled 2 a
// second; the service role and signed-in users unlimited. The checks allow for the refill during
// the test (the machine may be slow), never for more. Each test speaks from its own loopback
// address (127.0.0.x through Deno's localAddress), which the gateway passes on as the client IP, so
// the tests neither share a bucket with each other nor with the rest of the suite.
import { PostHog } from "posthog-node";
import { assert, assertEquals } from "../_support/assert.ts";
import { ENV, SERVICE_KEY } from "../_support/env.ts";
import { redis, storedEvents, storedEventsWhere, tokenFor, TRACK_URL, UA, uuid } from "../_support/track.ts";
import { createTrackClient } from "../../types/client.ts";
import { parseLimit } from "../../functions/track/rate_limit.ts";

// A fresh address per run (the buckets of the last run may still be refilling).
const runBase = 20 + Math.floor(Math.random() * 200);
let next = 0;
function fromAddress(): { address: string; fetch: typeof fetch } {
  const address = `127.0.${runBase}.${++next}`;
  const client = Deno.createHttpClient({ localAddress: address } as Deno.CreateHttpClientOptions);
  const f = ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
  return { address, fetch: f };
}

const like = (anonymousId: string, id = uuid()) => ({
  type: "mashup_liked",
  id,
  anonymous_id: anonymousId,
  properties: { mashup_id: uuid() },
});

async function post(f: typeof fetch, events: unknown[], token?: string) {
  const res = await f(TRACK_URL, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "User-Agent": UA.iphone,
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ events }),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    exposed: res.headers.get("access-control-expose-headers"),
    body: await res.json(),
  };
}

/**
 * Sends batches of `size` from one client until one is refused: returns what was accepted before,
 * how long that took, and the refusal. The rule checked with it: a bucket of `max` refilled `rate`
 * a second accepts at least `max` and at most `max + rate * elapsed` (plus one batch) before it refuses.
 */
async function drain(f: typeof fetch, size: number, eventFor: () => unknown, limit = 100) {
  const started = performance.now();
  let accepted = 0;
  for (let i = 0; i < limit; i++) {
    const res = await post(f, Array.from({ length: size }, eventFor));
    if (res.status !== 200) return { accepted, seconds: (performance.now() - started) / 1000, refusal: res };
    accepted += res.body.accepted;
  }
  throw new Error(`never refused after ${accepted} events`);
}

Deno.test("per anonymous id: a bucket of 120 refilled 2 a second; over it a 429 with Retry-After and a JSON error; it passes after waiting", async () => {
  const { address, fetch: f } = fromAddress();
  const anon = `anon-test-rl-anon-${uuid()}`;
  const { accepted, seconds, refusal } = await drain(f, 20, () => like(anon));
  assert(accepted >= 120 && accepted <= 120 + 2 * seconds + 20, `${accepted} accepted in ${seconds.toFixed(1)} s`);
  assertEquals(refusal.status, 429);
  assertEquals(refusal.body.field, "anonymous_id");
  assert(/^rate limit: too many events from one anonymous id/.test(refusal.body.error), refusal.body.error);
  const wait = Number(refusal.retryAfter);
  assert(Number.isInteger(wait) && wait >= 1 && wait <= 11, `Retry-After ${refusal.retryAfter}: 20 tokens at 2/s`);
  assertEquals(refusal.body.retry_after, wait);
  assertEquals(refusal.exposed, "Retry-After", "a browser on another origin can read Retry-After");

  const refused = Array.from({ length: 5 }, () => like(anon));
  const over = await post(f, refused);
  assertEquals(over.status, 429);
  assertEquals(await storedEvents(refused.map((e) => e.id)), [], "nothing of a refused request is stored");

  // Another anonymous id from the same address is not affected.
  const other = await post(f, [like(`anon-test-rl-other-${uuid()}`)]);
  assertEquals(other.status, 200);

  await new Promise((r) => setTimeout(r, Number(over.retryAfter) * 1000));
  const again = await post(f, refused);
  assertEquals([again.status, again.body.accepted], [200, 5], "after Retry-After the same request passes");

  // Redis holds no IP address and no anonymous id, only their keyed hashes.
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [c, batch] = await redis.scan(cursor, { match: "rl:track:*", count: 1000 });
    cursor = String(c);
    keys.push(...batch);
  } while (cursor !== "0");
  assert(keys.length > 0);
  assert(!keys.some((k) => k.includes(address) || k.includes(anon)), "no raw IP or anonymous id in a key");
});

Deno.test("per client IP: a bucket of 3000 refilled 50 a second across anonymous ids; then 429 naming the client; other addresses unaffected", async () => {
  const { fetch: f } = fromAddress();
  const { accepted, seconds, refusal } = await drain(f, 500, () => like(`anon-test-rl-ip-${uuid()}`));
  assert(accepted >= 3000 && accepted <= 3000 + 50 * seconds + 500, `${accepted} accepted in ${seconds.toFixed(1)} s`);
  assertEquals([refusal.status, refusal.body.field], [429, "client"]);
  assert(Number(refusal.retryAfter) >= 1 && Number(refusal.retryAfter) <= 11, `Retry-After ${refusal.retryAfter}`);

  const elsewhere = fromAddress();
  const res = await post(elsewhere.fetch, [like(`anon-test-rl-ip-${uuid()}`)]);
  assertEquals(res.status, 200, "another client's bucket is its own");
});

Deno.test("the service role and signed-in users are not limited by default", async () => {
  const { fetch: f } = fromAddress();
  const anon = `anon-test-rl-import-${uuid()}`;
  for (let i = 0; i < 8; i++) {
    const res = await post(f, Array.from({ length: 500 }, () => like(anon)), SERVICE_KEY);
    assertEquals([res.status, res.body.accepted], [200, 500], "a server import as the service role");
  }
  const user = await tokenFor(ENV.DEMO_CREATOR_ID);
  for (let i = 0; i < 2; i++) {
    const res = await post(f, Array.from({ length: 200 }, () => like(anon)), user);
    assertEquals([res.status, res.body.accepted], [200, 200], "a signed-in user");
  }
});

Deno.test("a request larger than a whole bucket is a 413 naming events (clients split it)", async () => {
  const { fetch: f } = fromAddress();
  const big = `anon-test-rl-big-${uuid()}`;
  const res = await post(f, Array.from({ length: 121 }, () => like(big)));
  assertEquals([res.status, res.body.field], [413, "events"]);
});

function recording(f: typeof fetch, statuses: number[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await f(input, init);
    statuses.push(res.status);
    return res;
  }) as typeof fetch;
}

Deno.test("the typed client splits a batch on 413 and loses nothing", async () => {
  const { fetch: f } = fromAddress();
  const anonymousId = `anon-test-rl-client-${uuid()}`;
  const statuses: number[] = [];
  const client = createTrackClient({ url: ENV.SUPABASE_URL, anonymousId, batchSize: 200, fetch: recording(f, statuses) });
  const mashup = uuid();
  for (let i = 0; i < 130; i++) client.trackLike(mashup);
  const answers = await client.flush();
  assertEquals(answers.map((a) => [a.accepted, a.duplicates, a.rejected]), [[130, 0, []]]);
  assertEquals(statuses[0], 413, "130 events of one anonymous id: more than its bucket of 120");
  assertEquals((await storedEventsWhere("anonymous_id", anonymousId)).length, 130, "every event stored once");
});

Deno.test("the typed client waits Retry-After on 429 and loses nothing", async () => {
  const { fetch: f } = fromAddress();
  const anonymousId = `anon-test-rl-wait-${uuid()}`;
  await drain(f, 40, () => like(anonymousId)); // the listener's bucket is empty now
  const statuses: number[] = [];
  const client = createTrackClient({ url: ENV.SUPABASE_URL, anonymousId, batchSize: 100, fetch: recording(f, statuses) });
  const mashup = uuid();
  const ids = Array.from({ length: 10 }, () => client.trackLike(mashup));
  const answers = await client.flush();
  assertEquals(answers.map((a) => [a.accepted, a.rejected]), [[10, []]]);
  assertEquals(statuses[0], 429, "the bucket was empty");
  assertEquals(statuses[statuses.length - 1], 200);
  assertEquals((await storedEvents(ids)).length, 10, "every event stored once");
});

Deno.test("posthog-node with its default retries backs off on 429 and loses nothing", async () => {
  const { fetch: f } = fromAddress();
  // Many visitors behind one address (a server forwarding them): first the address's bucket is emptied.
  await drain(f, 500, () => like(`anon-test-rl-ph-${uuid()}`));
  const statuses: number[] = [];
  const posthog = new PostHog("phc_rate_limit", {
    host: TRACK_URL,
    flushAt: 100,
    flushInterval: 0,
    disableGeoip: true,
    fetch: recording(f, statuses) as never,
  });
  const errors: unknown[] = [];
  posthog.on("error", (e) => errors.push(e));
  const ids: string[] = [];
  for (let i = 0; i < 400; i++) {
    const id = uuid();
    ids.push(id);
    posthog.capture({ distinctId: `anon-test-rl-ph-${uuid()}`, event: "mashup_liked", properties: { mashup_id: uuid() }, uuid: id });
  }
  await posthog.shutdown(120_000);
  assertEquals(errors, []);
  assert(statuses.includes(429), `the client IP limit was reached: ${statuses}`);
  assertEquals((await storedEvents(ids)).length, 400, "every event stored");
});

Deno.test("limits are settings: <events>/<period> or off, an unreadable one falls back to the default", () => {
  const fallback = { events: 120, periodMs: 60_000 };
  assertEquals(parseLimit("600/60s", fallback, "X"), { events: 600, periodMs: 60_000 });
  assertEquals(parseLimit(" 100 / 10 s ", fallback, "X"), { events: 100, periodMs: 10_000 });
  assertEquals(parseLimit("5000/1h", fallback, "X"), { events: 5000, periodMs: 3_600_000 });
  assertEquals(parseLimit("off", fallback, "X"), null);
  assertEquals(parseLimit(undefined, fallback, "X"), fallback);
  assertEquals(parseLimit("", null, "X"), null);
  const quiet = console.error;
  console.error = () => {};
  try {
    assertEquals(parseLimit("lots", fallback, "X"), fallback);
    assertEquals(parseLimit("0/60s", fallback, "X"), fallback);
  } finally {
    console.error = quiet;
  }
});
