// bench/realtime/read_viral: one read of a creator's live panel (readRealtime, what GET
// /analytics/realtime and the dashboard's 10-second refresh run) when one of their mashups has gone
// viral: 300,000 plays and 30,000 likes in the hour, 50,000 listeners active in the last 5 minutes,
// 5,000 playing in the last minute. Baseline, in the same run on the same redis-server: the read
// before the score bands (one script walking the scope's whole hour), over the same members with
// their times as scores. Both answers must be equal, or the bench fails.
// Run against the local stack (npm start first):
//   STACK_PORT=55500 node_modules/.bin/deno run --allow-all --config deno.json bench/realtime/read_viral.ts
// Cleans up its two keys. BENCH_PLAYS, BENCH_RUNS override the sizes.
import { Redis } from "@upstash/redis";
import {
  ACTIVE_WINDOW_MS,
  keys,
  LAST_HOUR_MS,
  PLAYING_WINDOW_MS,
  readRealtime,
  windowScore,
} from "../../functions/_shared/realtime.ts";

const env: Record<string, string> = {};
for (const line of Deno.readTextFileSync(new URL("../../.env.local", import.meta.url)).split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) env[m[1]] = m[2];
}
const redis = new Redis({
  url: env.UPSTASH_REDIS_REST_URL,
  token: env.UPSTASH_REDIS_REST_TOKEN,
  retry: false,
});
const PLAYS = Number(Deno.env.get("BENCH_PLAYS") ?? 300_000);
const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The read as it was before the score bands (commit 2efba1b), the baseline.
const READ_BEFORE = `
local now = tonumber(ARGV[1])
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - ${LAST_HOUR_MS}), now, 'WITHSCORES')
local active, plays, likes = 0, 0, 0
local playing, ended = {}, {}
for j = 1, #items, 2 do
  local m = items[j]; local t = tonumber(items[j + 1]); local kind = string.sub(m, 1, 2)
  if kind == 'a|' then
    if t > now - ${ACTIVE_WINDOW_MS} then active = active + 1 end
  elseif kind == 'e|' then
    if string.sub(m, 3, 8) == 'plays|' then plays = plays + 1 elseif string.sub(m, 3, 8) == 'likes|' then likes = likes + 1 end
  elseif kind == 'p|' then
    if t > now - ${PLAYING_WINDOW_MS} then playing[string.sub(m, 3)] = t end
  elseif kind == 'x|' then
    ended[string.sub(m, 3)] = t
  end
end
local n = 0
for pair, t in pairs(playing) do
  local e = ended[pair]
  if not e or e < t then n = n + 1 end
end
return {active, plays, likes, n}
`;

const now = Date.now();
const mashup = crypto.randomUUID();
const banded = { creatorId: `bench-viral-${crypto.randomUUID()}` };
const plain = keys.recent({ creatorId: `bench-viral-${crypto.randomUUID()}` });
const members: [string, number][] = [];
for (let i = 0; i < PLAYS; i++) {
  members.push([`e|plays|${crypto.randomUUID()}`, now - Math.floor(Math.random() * LAST_HOUR_MS)]);
}
for (let i = 0; i < PLAYS / 10; i++) {
  members.push([`e|likes|${crypto.randomUUID()}`, now - Math.floor(Math.random() * LAST_HOUR_MS)]);
}
for (let i = 0; i < PLAYS / 6; i++) {
  members.push([`a|a:viral-${i}`, now - Math.floor(Math.random() * ACTIVE_WINDOW_MS)]);
}
for (let i = 0; i < PLAYS / 60; i++) {
  members.push([`p|${mashup}|a:viral-${i}`, now - Math.floor(Math.random() * PLAYING_WINDOW_MS)]);
  if (i % 5 === 0) {
    members.push([`x|${mashup}|a:viral-${i}`, now - Math.floor(Math.random() * PLAYING_WINDOW_MS)]);
  }
}
for (let i = 0; i < members.length; i += 5000) {
  const p = redis.pipeline();
  for (let j = i; j < Math.min(i + 5000, members.length); j += 1000) {
    const chunk = members.slice(j, Math.min(j + 1000, i + 5000, members.length));
    const [f, ...r] = chunk.map(([m, t]) => ({ member: m, score: windowScore(m, t) }));
    p.zadd(keys.recent(banded), f, ...r);
    const [g, ...s] = chunk.map(([m, t]) => ({ member: m, score: t }));
    p.zadd(plain, g, ...s);
  }
  await p.exec();
}

try {
  const after: number[] = [];
  const before: number[] = [];
  let a = null;
  let b: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    a = await readRealtime(banded, { now, redis });
    after.push(performance.now() - t0);
    t0 = performance.now();
    b = (await redis.eval(READ_BEFORE, [plain], [String(now)])) as number[];
    before.push(performance.now() - t0);
  }
  const playingNow = a!.playingNow.reduce((n, p) => n + p.listeners, 0);
  const same = a!.activeUsers === b[0] && a!.lastHour.plays === b[1] && a!.lastHour.likes === b[2] &&
    playingNow === b[3];
  console.log(
    `members in the scope: ${members.length} (plays ${PLAYS}, likes ${PLAYS / 10}, active ${PLAYS / 6})`,
  );
  console.log(
    `answer: active ${a!.activeUsers}, plays ${a!.lastHour.plays}, likes ${
      a!.lastHour.likes
    }, playing ${playingNow}` +
      ` | before: ${b.join(", ")} | ${same ? "equal" : "DIFFERENT"}`,
  );
  console.log(
    `baseline, the read before (the whole hour in one script): median ${median(before).toFixed(1)} ms ` +
      `(runs ${before.map((x) => x.toFixed(0)).join(" / ")})`,
  );
  console.log(
    `readRealtime now (ZCOUNT per band, the last minute scanned): median ${median(after).toFixed(1)} ms ` +
      `(runs ${after.map((x) => x.toFixed(0)).join(" / ")})`,
  );
  console.log(`ratio now / before: ${(median(after) / median(before)).toFixed(3)}`);
  if (!same) Deno.exit(1);
} finally {
  await redis.del(keys.recent(banded), plain);
}
