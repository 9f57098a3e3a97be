// Rate limits on track (functions/track/rate_limit.ts) with the stack's default settings: per
// client IP a bucket of 3000 events refilled 50 a second, per anonymous id 120 refilled 2 a
// second; the service role and signed-in users unlimited. Each test speaks from its own loopback
// address (127.0.0.x through Deno's localAddress), which the gateway passes on as the client IP, so
// the tests neither share a bucket with each other nor with the rest of the suite.
import { PostHog } from "posthog-node";
import { assert, assertEquals } from "../_support/assert.ts";
import { ENV, SERVICE_KEY } from "../_support/env.ts";
import { redis, storedEvents, storedEventsWhere, tokenFor, TRACK_URL, UA, uuid } from "../_support/track.ts";
import { createTrackClient } from "../../types/client.ts";

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
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

Deno.test("per anonymous id: 120 events pass, the 121st is a 429 with Retry-After and a JSON error; it passes after waiting", async () => {
  const { address, fetch: f } = fromAddress();
  const anon = `rl-anon-${uuid()}`;
  const first = await post(f, Array.from({ length: 120 }, () => like(anon)));
  assertEquals([first.status, first.body.accepted], [200, 120]);

  const refused = Array.from({ length: 5 }, () => like(anon));
  const over = await post(f, refused);
  assertEquals(over.status, 429);
  assertEquals(over.body.field, "anonymous_id");
  assert(/^rate limit: too many events from one anonymous id/.test(over.body.error), over.body.error);
  const wait = Number(over.retryAfter);
  assert(Number.isInteger(wait) && wait >= 1 && wait <= 3, `Retry-After ${over.retryAfter}: 5 tokens at 2/s`);
  assertEquals(over.body.retry_after, wait);
  assertEquals(await storedEvents(refused.map((e) => e.id)), [], "nothing of a refused request is stored");

  // Another anonymous id from the same address is not affected.
  const other = await post(f, [like(`rl-other-${uuid()}`)]);
  assertEquals(other.status, 200);

  await new Promise((r) => setTimeout(r, wait * 1000));
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

Deno.test("per client IP: 3000 events from many anonymous ids pass, then 429 naming the client; other addresses unaffected", async () => {
  const { fetch: f } = fromAddress();
  for (const n of [500, 500, 500, 500, 500, 500]) {
    const res = await post(f, Array.from({ length: n }, () => like(`rl-ip-${uuid()}`)));
    assertEquals([res.status, res.body.accepted], [200, n]);
  }
  const over = await post(f, Array.from({ length: 500 }, () => like(`rl-ip-${uuid()}`)));
  assertEquals([over.status, over.body.field], [429, "client"]);
  assert(Number(over.retryAfter) >= 1, `Retry-After ${over.retryAfter}`);

  const elsewhere = fromAddress();
  const res = await post(elsewhere.fetch, [like(`rl-ip-${uuid()}`)]);
  assertEquals(res.status, 200, "another client's bucket is its own");
});

Deno.test("the service role and signed-in users are not limited by default", async () => {
  const { fetch: f } = fromAddress();
  const anon = `rl-import-${uuid()}`;
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
  const res = await post(f, Array.from({ length: 121 }, () => like("rl-big")));
  assertEquals([res.status, res.body.field], [413, "events"]);
});

Deno.test("the typed client splits on 413, waits on 429 and loses nothing", async () => {
  const { fetch: f } = fromAddress();
  const anonymousId = `rl-client-${uuid()}`;
  const statuses: number[] = [];
  const client = createTrackClient({
    url: ENV.SUPABASE_URL,
    anonymousId,
    batchSize: 200,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await f(input, init);
      statuses.push(res.status);
      return res;
    }) as typeof fetch,
  });
  const mashup = uuid();
  for (let i = 0; i < 130; i++) client.trackLike(mashup);
  const answers = await client.flush();
  assertEquals(answers.map((a) => [a.accepted, a.duplicates, a.rejected]), [[130, 0, []]]);
  assertEquals(statuses[0], 413, "130 events of one anonymous id: more than its bucket of 120");
  assert(statuses.includes(429), `a half waited for tokens: ${statuses}`);
  assertEquals(statuses.filter((s) => s === 200).length, 2);
  const rows = await storedEventsWhere("anonymous_id", anonymousId);
  assertEquals(rows.length, 130, "every event stored exactly once");
});

Deno.test("posthog-node with its default retries backs off on 429 and loses nothing", async () => {
  const { fetch: f } = fromAddress();
  const statuses: number[] = [];
  const posthog = new PostHog("phc_rate_limit", {
    host: TRACK_URL,
    flushAt: 100,
    flushInterval: 0,
    disableGeoip: true,
    fetch: (async (url: string, init: RequestInit) => {
      const res = await f(url, init);
      statuses.push(res.status);
      return res;
    }) as never,
  });
  const errors: unknown[] = [];
  posthog.on("error", (e) => errors.push(e));
  const ids: string[] = [];
  // Many visitors behind one address (a server forwarding them): the client IP bucket limits.
  for (let i = 0; i < 3400; i++) {
    const id = uuid();
    ids.push(id);
    posthog.capture({ distinctId: `rl-ph-${uuid()}`, event: "mashup_liked", properties: { mashup_id: uuid() }, uuid: id });
  }
  await posthog.shutdown(120_000);
  assertEquals(errors, []);
  assert(statuses.includes(429), `the client IP limit was reached: ${statuses}`);
  assertEquals((await storedEvents(ids)).length, 3400, "every event stored");
});
