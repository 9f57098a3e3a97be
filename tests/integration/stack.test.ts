// The local stack, used the way a client uses hosted Supabase: supabase-js against the one base
// URL, and @upstash/redis with its default options against the Upstash REST endpoint.
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { Redis } from "@upstash/redis";
import { ANON_KEY, anonClient, API_URL, DEMO_ID, DEMO_TOKEN, ENV, userClient } from "../_support/env.ts";

Deno.test("signed in as the demo creator, an RPC runs as that user under RLS", async () => {
  const db = userClient(DEMO_TOKEN);
  const { data, error } = await db.rpc("whoami");
  assertEquals(error, null);
  const me = data as { user_id: string; role: string; mashups: number };
  assertEquals(me.user_id, DEMO_ID);
  assertEquals(me.role, "authenticated");

  const { data: mashups, error: e2 } = await db.from("mashups").select("id, creator_id");
  assertEquals(e2, null);
  assertEquals(me.mashups, mashups!.length);
  assert(mashups!.length > 0, "the demo creator has mashups");
  assert(mashups!.every((m) => m.creator_id === DEMO_ID), "only the creator's own mashups are visible");
});

Deno.test("an Edge Function through the same base URL: 200 with a token, 401 without", async () => {
  const { data, error } = await userClient(DEMO_TOKEN).functions.invoke("whoami", { method: "GET" });
  assertEquals(error, null);
  assertEquals((data as { user_id: string }).user_id, DEMO_ID);

  const none = await fetch(`${API_URL}/functions/v1/whoami`);
  assertEquals(none.status, 401);
  await none.body?.cancel();

  const forged = await fetch(`${API_URL}/functions/v1/whoami`, {
    headers: { Authorization: `Bearer ${DEMO_TOKEN.slice(0, -4)}AAAA` },
  });
  assertEquals(forged.status, 401, "a token with a bad signature is refused");
  await forged.body?.cancel();
});

Deno.test("anon reads nothing and cannot write raw events", async () => {
  const db = anonClient();
  const { data, error } = await db.from("analytics_events").select("id").limit(5);
  assertEquals(error, null);
  assertEquals(data, []);
  const ins = await db.from("analytics_events").insert({ event_type: "mashup_liked", session_id: "x" });
  assertEquals(ins.error?.code, "42501");
});

Deno.test("the gateway refuses REST calls without a project API key", async () => {
  const res = await fetch(`${API_URL}/rest/v1/mashups`);
  assertEquals(res.status, 401);
  await res.body?.cancel();
  const ok = await fetch(`${API_URL}/rest/v1/mashups?select=id&limit=1`, { headers: { apikey: ANON_KEY } });
  assertEquals(ok.status, 200);
  await ok.body?.cancel();
});

async function redisCli(...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", ENV.REDIS_PORT, "--no-raw", ...args],
    env: { REDISCLI_AUTH: ENV.REDIS_PASSWORD },
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("@upstash/redis with default options gets Redis's answers through the REST endpoint", async () => {
  const redis = new Redis({ url: ENV.UPSTASH_REDIS_REST_URL, token: ENV.UPSTASH_REDIS_REST_TOKEN });
  const k = `test:${crypto.randomUUID()}`;

  assertEquals(await redis.incr(`${k}:plays`), 1);
  assertEquals(await redis.incr(`${k}:plays`), 2);
  assertEquals(await redisCli("GET", `${k}:plays`), '"2"', "the value really is in Redis");
  await redis.set(`${k}:title`, "Summer Vibes — ünïcode ✓");
  assertEquals(await redis.get(`${k}:title`), "Summer Vibes — ünïcode ✓");
  assertEquals(await redis.mget(`${k}:plays`, `${k}:missing`, `${k}:title`), [2, null, "Summer Vibes — ünïcode ✓"]);
  assertEquals(await redis.getdel(`${k}:plays`), 2);
  assertEquals(await redis.get(`${k}:plays`), null);
  assertEquals(await redisCli("EXISTS", `${k}:plays`), "(integer) 0");

  assertEquals(await redis.hincrby(`${k}:h`, "likes", 5), 5);
  assertEquals(await redis.hincrby(`${k}:h`, "likes", -2), 3);
  assertEquals(await redisCli("HGET", `${k}:h`, "likes"), '"3"');

  for (let i = 0; i < 25; i++) await redis.set(`${k}:scan:${i}`, i);
  const seen = new Set<string>();
  let cursor: string | number = 0;
  do {
    const [next, keys]: [string | number, string[]] = await redis.scan(cursor, { match: `${k}:scan:*`, count: 7 });
    keys.forEach((x) => seen.add(x));
    cursor = next;
  } while (String(cursor) !== "0");
  assertEquals(seen.size, 25, "SCAN walks every matching key");

  const p = redis.pipeline();
  p.incr(`${k}:p`);
  p.incrby(`${k}:p`, 10);
  p.get(`${k}:p`);
  assertEquals(await p.exec(), [1, 11, 11]);

  const tx = redis.multi();
  tx.incr(`${k}:m`);
  tx.expire(`${k}:m`, 60);
  tx.ttl(`${k}:m`);
  const [one, expired, ttl] = (await tx.exec()) as [number, number, number];
  assertEquals([one, expired], [1, 1]);
  assert(ttl > 0 && ttl <= 60);

  const script = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
  assertEquals(await redis.eval(script, [`${k}:e`], ["7"]), 7);
  assertEquals(await redisCli("GET", `${k}:e`), '"7"');

  await assertRejects(() => redis.hincrby(`${k}:title`, "x", 1), Error, "WRONGTYPE");
  await redisCli("EVAL", `for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, "0", `${k}*`);
});

Deno.test("the Upstash REST endpoint refuses a wrong token with 401", async () => {
  const res = await fetch(ENV.UPSTASH_REDIS_REST_URL, {
    method: "POST",
    headers: { Authorization: "Bearer wrong-token" },
    body: JSON.stringify(["PING"]),
  });
  assertEquals(res.status, 401);
  assertEquals(await res.json(), { error: "Unauthorized" });
  const redis = new Redis({ url: ENV.UPSTASH_REDIS_REST_URL, token: "wrong-token" });
  await assertRejects(() => redis.get("anything"), Error, "Unauthorized");
});
