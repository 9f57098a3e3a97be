// Rate-limit tokens taken in blocks (functions/track/token_blocks.ts) against the stack's real
// Redis through @upstash/ratelimit's token bucket. Every Redis call the blocks make is recorded
// (the tokens asked), so the tests check both what is allowed and what it cost in calls.
import { Ratelimit } from "@upstash/ratelimit";
import { assert, assertEquals } from "../_support/assert.ts";
import { redis, uuid } from "../_support/track.ts";
import { teardown } from "../_support/teardown.ts";
import { TokenBlocks } from "../../functions/track/token_blocks.ts";
import { parseBlock } from "../../functions/track/rate_limit.ts";

const PREFIX = `rl:test-blocks:${uuid()}`;

/** A real token bucket of `max` tokens refilled `refill` per second, and the calls made to it. */
function bucket(max: number, refill = 1) {
  const ratelimit = new Ratelimit({
    redis,
    limiter: Ratelimit.tokenBucket(refill, "1000 ms", max),
    prefix: `${PREFIX}:${uuid()}`,
    ephemeralCache: false,
    analytics: false,
  });
  const asked: number[] = [];
  const recorded = {
    limit: (id: string, opts?: { rate?: number }) => {
      asked.push(opts?.rate ?? 1);
      return ratelimit.limit(id, opts);
    },
  };
  return { ratelimit, recorded, asked };
}

async function remaining(ratelimit: Ratelimit, id: string) {
  return (await ratelimit.getRemaining(id)).remaining;
}

Deno.test("a fresh identifier's first block costs no Redis call and is charged with its next block", async () => {
  const b = bucket(100);
  const blocks = new TokenBlocks(b.recorded, 10, 60_000);
  const id = uuid();
  for (let i = 0; i < 10; i++) assertEquals((await blocks.take(id, 1)).success, true);
  assertEquals(b.asked, [], "ten single events on the first block's credit");
  const started = Date.now();
  const taken = await blocks.take(id, 1);
  assertEquals([taken.success, taken.fromRedis], [true, true]);
  assertEquals(b.asked, [10 + 1 + 10], "what was owed, what the request needs, the next block");
  const left = await remaining(b.ratelimit, id);
  const refilled = Math.ceil((Date.now() - started) / 1000) + 1;
  assert(left >= 79 && left <= 79 + refilled, `the bucket holds ${left} of 100 after 21 were taken`);
  for (let i = 0; i < 9; i++) await blocks.take(id, 1);
  assertEquals(b.asked.length, 1, "the next nine from memory");
});

Deno.test("a block the bucket cannot give is asked again for exactly what the request needs", async () => {
  const b = bucket(100, 1);
  const blocks = new TokenBlocks(b.recorded, 10, 60_000);
  const id = uuid();
  assertEquals((await blocks.take(id, 50)).success, true); // 60 taken: 50 (10 of them on credit) + a block of 10
  assertEquals((await blocks.take(id, 35)).success, true); // 25 more needed + a block: 95 taken
  const near = await blocks.take(id, 14); // needs 4 beyond its credit: 14 asked and refused (5 left), then exactly 4
  assertEquals(b.asked, [60, 35, 14, 4]);
  assertEquals(near.success, true);
  assertEquals(b.asked.length, 4, "one exact ask after the refused block");
});

Deno.test("after a refusal, a request needing as much is refused in memory until the retry time; a smaller one asks Redis", async () => {
  const b = bucket(20, 1);
  const blocks = new TokenBlocks(b.recorded, 2, 60_000);
  const id = uuid();
  assertEquals((await blocks.take(id, 18)).success, true); // 20 taken: 18 + a block of 2
  assertEquals((await blocks.take(id, 2)).success, true); // the block
  const refused = await blocks.take(id, 10);
  assertEquals([refused.success, refused.fromRedis], [false, true]);
  const calls = b.asked.length;
  blocks.refusedUntil(id, Date.now() + 30_000);
  const again = await blocks.take(id, 10);
  assertEquals([again.success, again.fromRedis, b.asked.length], [false, false, calls], "no Redis call");
  assert(again.reset > Date.now() + 25_000, "the refusal repeats the retry time");
  await blocks.take(id, 1);
  assertEquals(b.asked.length > calls, true, "a smaller request is asked of Redis");
});

Deno.test("several instances: the bucket bounds what they allow together, up to a block each", async () => {
  const b = bucket(60, 1);
  const instances = [new TokenBlocks(b.recorded, 6, 60_000), new TokenBlocks(b.recorded, 6, 60_000)];
  const id = uuid();
  const started = Date.now();
  let allowed = 0;
  let refusedInARow = 0;
  for (let i = 0; i < 400 && refusedInARow < 4; i++) {
    const ok = (await instances[i % 2].take(id, 1)).success;
    allowed += ok ? 1 : 0;
    refusedInARow = ok ? 0 : refusedInARow + 1;
  }
  const refilled = Math.ceil((Date.now() - started) / 1000) + 1;
  assert(refusedInARow === 4, "both instances refuse in the end");
  // Each instance's first block is on credit (up to 6 uncharged) and each may hold a block unused.
  assert(allowed >= 60 - 2 * 6 && allowed <= 60 + 2 * 6 + refilled, `${allowed} allowed from a bucket of 60`);
});

Deno.test("block 0: every request asks the bucket for exactly its cost", async () => {
  const b = bucket(10, 1);
  const blocks = new TokenBlocks(b.recorded, 0, 60_000);
  const id = uuid();
  for (const cost of [1, 3, 2]) assertEquals((await blocks.take(id, cost)).success, true);
  assertEquals(b.asked, [1, 3, 2]);
  assertEquals((await blocks.take(id, 5)).success, false);
  assertEquals(b.asked, [1, 3, 2, 5], "no second ask without a block");
});

Deno.test("tokens a refused request took are given back to the instance, not to Redis", async () => {
  const b = bucket(100);
  const blocks = new TokenBlocks(b.recorded, 10, 60_000);
  const id = uuid();
  await blocks.take(id, 8);
  blocks.giveBack(id, 8);
  for (let i = 0; i < 10; i++) await blocks.take(id, 1);
  assertEquals(b.asked, [], "the whole first block is still on credit");
});

Deno.test("TRACK_RATE_LIMIT_BLOCK: a share of the bucket or events, 0/off exact, at most half the bucket", () => {
  assertEquals(parseBlock(undefined, 120), 12);
  assertEquals(parseBlock("25%", 3000), 750);
  assertEquals(parseBlock("40", 3000), 40);
  assertEquals(parseBlock("off", 120), 0);
  assertEquals(parseBlock("0", 120), 0);
  assertEquals(parseBlock("90%", 100), 50);
  assertEquals(parseBlock("5", 5), 2);
  const quiet = console.error;
  console.error = () => {};
  try {
    assertEquals(parseBlock("lots", 120), 12);
  } finally {
    console.error = quiet;
  }
});

// The test buckets' keys (each test's bucket has its own prefix under PREFIX).
Deno.test.afterAll(teardown("the test's Redis keys", async () => {
  let cursor = "0";
  do {
    const [c, keys] = await redis.scan(cursor, { match: `${PREFIX}:*`, count: 1000 });
    cursor = String(c);
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
}));
