// The stack's scheduler runs the realtime sync every five minutes (scripts/realtime-scheduler.ts),
// and the sync takes every dirty counter out of Redis (its value moves to Postgres, or is dropped
// for a mashup that has no row). A test that reads a counter's value in Redis would see it vanish
// whenever its run crosses a five-minute mark. Such a test holds the sync's own lock, the way a
// reconciliation does: while it is set, the move script moves nothing (functions/_shared/realtime_sync.ts).
import type { Redis } from "@upstash/redis";
import { LOCK } from "../../functions/_shared/realtime_sync.ts";

const RELEASE =
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Runs `fn` with no sync moving counters meanwhile; waits (up to a minute) for a reconciliation
 * holding the lock. The lock expires on its own after two minutes if the test process dies. */
export async function holdingTheSync<T>(redis: Redis, fn: () => Promise<T>): Promise<T> {
  const token = crypto.randomUUID();
  for (let waited = 0; (await redis.set(LOCK, token, { nx: true, px: 120_000 })) !== "OK"; waited += 100) {
    if (waited >= 60_000) throw new Error(`${LOCK} stayed held by another run for a minute`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, [LOCK], [token]);
  }
}
