// Abuse limits for track, with @upstash/ratelimit on the same Upstash Redis as the live counters.
// Two token buckets, counted in events (a batch of 50 costs 50 tokens, PostHog's own `$` events
// nothing), checked before anything is stored:
//   per client     the caller's IP address (TRACK_RATE_LIMIT_IP, default 3000 events a minute:
//                  50 a second with bursts of 3000, room for hundreds of listeners behind one NAT)
//   per listener   each anonymous id (else session id) in the request (TRACK_RATE_LIMIT_ANONYMOUS,
//                  default 120 a minute: 2 a second with bursts of 120; a listener playing with
//                  progress heartbeats every 10 s sends about 8 a minute)
// Only anonymous callers are limited by default: a verified signed-in user (TRACK_RATE_LIMIT_USER)
// and the service role (TRACK_RATE_LIMIT_SERVICE, server imports) are "off" unless configured.
// Each setting is `<events>/<period>` (`600/60s`, `100/10s`, `5000/1h`) or `off`; docs/ingestion.md.
//
// Privacy: the IP address is read from the gateway's header, used for this decision and dropped.
// Redis holds only an HMAC of it (keyed with the project's JWT secret), under a key that expires
// with its bucket; the same goes for anonymous ids. Nothing about the limit reaches Postgres.
// A Redis failure or a slow answer (over 300 ms) lets the request through: events are never lost
// to the limiter, and a hanging Redis delays an answer by at most 0.3 s here plus the 1 s the live
// counters wait.
//
// Redis commands: tokens are taken from the buckets in blocks (TRACK_RATE_LIMIT_BLOCK, default a
// tenth of the bucket) and spent from memory in between (token_blocks.ts), so most requests cost
// no limiter command; a visitor's first block is on credit, charged with their next one.
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { type Caller, secretApiKeys } from "../_shared/auth.ts";
import { env } from "../_shared/env.ts";
import type { Received } from "./ingest.ts";
import { TokenBlocks } from "./token_blocks.ts";

export type Bucket = { events: number; periodMs: number };

/** `<events>/<period>` or `off`; null for off, the default for anything unreadable. */
export function parseLimit(value: string | undefined, fallback: Bucket | null, name: string): Bucket | null {
  if (value === undefined || value.trim() === "") return fallback;
  const v = value.trim().toLowerCase();
  if (v === "off" || v === "0") return null;
  const m = /^(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)$/.exec(v);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const events = m ? Number(m[1]) : NaN;
  const periodMs = m ? Number(m[2]) * units[m[3]] : NaN;
  if (!(events >= 1 && periodMs >= 1)) {
    console.error(`[track] ${name}=${value} is not <events>/<period> (e.g. 600/60s) or off; using the default`);
    return fallback;
  }
  return { events, periodMs };
}

type Scope = "ip" | "anonymous" | "user" | "service";
const DEFAULTS: Record<Scope, Bucket | null> = {
  ip: { events: 3000, periodMs: 60_000 },
  anonymous: { events: 120, periodMs: 60_000 },
  user: null,
  service: null,
};
const ENV_NAMES: Record<Scope, string> = {
  ip: "TRACK_RATE_LIMIT_IP",
  anonymous: "TRACK_RATE_LIMIT_ANONYMOUS",
  user: "TRACK_RATE_LIMIT_USER",
  service: "TRACK_RATE_LIMIT_SERVICE",
};

/** A bucket as @upstash/ratelimit's token bucket: refilled continuously (every second or faster). */
function tokenBucket(b: Bucket) {
  const perSecond = (b.events * 1000) / b.periodMs;
  if (perSecond >= 1) {
    const refill = Math.floor(perSecond);
    return { refill, intervalMs: 1000, max: b.events };
  }
  return { refill: 1, intervalMs: Math.ceil(b.periodMs / b.events), max: b.events };
}

/**
 * TRACK_RATE_LIMIT_BLOCK: how many tokens one Redis call takes beyond what a request needs, as a
 * share of the bucket (`10%`, the default) or in events (`25`); `0` or `off` asks Redis for every
 * request.
 */
export function parseBlock(value: string | undefined, max: number): number {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "") return Math.floor(max / 10);
  if (v === "off" || v === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(v);
  if (!m) {
    console.error(`[track] TRACK_RATE_LIMIT_BLOCK=${value} is not a share (10%) or a number of events; using 10%`);
    return Math.floor(max / 10);
  }
  const n = m[2] === "%" ? Math.floor((max * Number(m[1])) / 100) : Math.floor(Number(m[1]));
  return Math.max(0, Math.min(n, Math.floor(max / 2)));
}

type Limiter = { ratelimit: Ratelimit; blocks: TokenBlocks; refill: number; intervalMs: number; max: number };
const limiters = new Map<Scope, Limiter | null>();
let redis: Redis | null = null;

function limiter(scope: Scope): Limiter | null {
  if (limiters.has(scope)) return limiters.get(scope)!;
  const bucket = parseLimit(Deno.env.get(ENV_NAMES[scope]), DEFAULTS[scope], ENV_NAMES[scope]);
  let made: Limiter | null = null;
  if (bucket) {
    const tb = tokenBucket(bucket);
    // Auto-pipelining: the buckets of one request go to Redis in one HTTP round trip.
    redis ??= new Redis({
      url: env("UPSTASH_REDIS_REST_URL"),
      token: env("UPSTASH_REDIS_REST_TOKEN"),
      retry: false,
      enableAutoPipelining: true,
    });
    const ratelimit = new Ratelimit({
      redis,
      limiter: Ratelimit.tokenBucket(tb.refill, `${tb.intervalMs} ms` as never, tb.max),
      prefix: `rl:track:${scope}`,
      timeout: 300,
      analytics: false,
      // token_blocks.ts remembers refusals itself; the library's cache would refuse its exact ask.
      ephemeralCache: false,
    });
    const block = parseBlock(Deno.env.get("TRACK_RATE_LIMIT_BLOCK"), tb.max);
    made = { ratelimit, blocks: new TokenBlocks(ratelimit, block, bucket.periodMs), ...tb };
  }
  limiters.set(scope, made);
  return made;
}

/** A server-side secret every hosted function has (Supabase injects the project's keys; the CLI
 *  refuses to set SUPABASE_JWT_SECRET, and hosted Supabase does not inject it). */
function pseudonymSecret(): string {
  return secretApiKeys()[0] ?? Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ?? env("LEGACY_JWT_SECRET");
}

let hmacKey: Promise<CryptoKey> | null = null;
/** A keyed hash: what Redis holds instead of an IP address or an anonymous id. */
async function pseudonym(value: string): Promise<string> {
  hmacKey ??= crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(`track-rate-limit:${pseudonymSecret()}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey, new TextEncoder().encode(value)));
  return btoa(String.fromCharCode(...mac.subarray(0, 16))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The caller's IP address as the gateway gives it: TRACK_CLIENT_IP_HEADER (default
 * x-forwarded-for, first address). The local gateway overwrites any copy a client sends.
 */
export function clientAddress(headers: Headers): string {
  const name = (Deno.env.get("TRACK_CLIENT_IP_HEADER") || "x-forwarded-for").toLowerCase();
  return headers.get(name)?.split(",")[0].trim() || "unknown";
}

/** Who each counted event is from: anonymous id, else session id (the listener key without a user). */
function listenerOf(item: Received): string | null {
  if (item.ignored) return null;
  const input = item.input as { anonymous_id?: unknown; session_id?: unknown } | null;
  if (typeof input !== "object" || input === null) return null;
  for (const v of [input.anonymous_id, input.session_id]) {
    if ((typeof v === "string" && v !== "") || typeof v === "number") return `${typeof v}:${v}`;
  }
  return null;
}

export type Refusal = { status: 413 | 429; error: string; field: string; retryAfterSeconds?: number };

type Check = { limiter: Limiter; id: string; cost: number; field: string; what: string };

/**
 * Applies the caller's limits to a parsed request; null when it may go on. Buckets are charged
 * only if all of them allow the request (one that refuses gives back what the others took).
 */
export async function checkRateLimits(caller: Caller, headers: Headers, received: Received[]): Promise<Refusal | null> {
  const counted = received.filter((r) => !r.ignored);
  const checks: Check[] = [];
  if (caller.kind === "anon") {
    const ip = limiter("ip");
    if (ip) {
      checks.push({
        limiter: ip,
        id: await pseudonym(`ip:${clientAddress(headers)}`),
        cost: Math.max(1, counted.length),
        field: "client",
        what: "events from this client (IP address)",
      });
    }
    const anonymous = limiter("anonymous");
    if (anonymous) {
      const perListener = new Map<string, number>();
      for (const item of counted) {
        const who = listenerOf(item);
        if (who) perListener.set(who, (perListener.get(who) ?? 0) + 1);
      }
      for (const [who, cost] of perListener) {
        checks.push({
          limiter: anonymous,
          id: await pseudonym(`anonymous:${who}`),
          cost,
          field: "anonymous_id",
          what: "events from one anonymous id",
        });
      }
    }
  } else {
    const own = limiter(caller.kind === "user" ? "user" : "service");
    if (own) {
      checks.push({
        limiter: own,
        id: await pseudonym(`${caller.kind}:${caller.kind === "user" ? caller.userId : "service"}`),
        cost: Math.max(1, counted.length),
        field: "authorization",
        what: caller.kind === "user" ? "events from this user" : "events from the service role",
      });
    }
  }
  if (checks.length === 0) return null;

  // A request larger than a whole bucket could never pass: 413, so clients split the batch
  // (posthog-node halves its batch on 413, as does the typed client).
  const tooBig = checks.find((c) => c.cost > c.limiter.max);
  if (tooBig) {
    return {
      status: 413,
      error: `events: ${tooBig.cost} ${tooBig.what} in one request, at most ${tooBig.limiter.max}; send smaller batches`,
      field: "events",
    };
  }

  let outcomes;
  try {
    outcomes = await Promise.all(checks.map((c) => c.limiter.blocks.take(c.id, c.cost)));
  } catch (e) {
    console.error(`[track] rate limit not checked, request let through: ${(e as Error).message}`);
    return null;
  }
  const refusedAt = outcomes.findIndex((o) => !o.success);
  if (refusedAt < 0) return null;

  // Give back what the buckets that allowed this request took: the client will send it again.
  checks.forEach((c, i) => {
    if (outcomes[i].success) c.limiter.blocks.giveBack(c.id, c.cost);
  });
  // When enough tokens for the whole request will be back: the bucket's next refill, then one
  // interval per `refill` tokens still missing (asked of Redis once per refusal; a refusal decided
  // in memory repeats the time the last one gave).
  const waits = await Promise.all(outcomes.map(async (o, i) => {
    if (o.success) return 0;
    const c = checks[i];
    if (!o.fromRedis) return Math.max(0, o.reset - Date.now());
    const now = await c.limiter.ratelimit.getRemaining(c.id).catch(() => ({ remaining: 0, reset: o.reset }));
    const refills = Math.max(1, Math.ceil((c.cost - now.remaining) / c.limiter.refill));
    const wait = Math.max(0, now.reset - Date.now()) + (refills - 1) * c.limiter.intervalMs;
    c.limiter.blocks.refusedUntil(c.id, Date.now() + wait);
    return wait;
  }));
  const waitMs = Math.max(...waits);
  const c = checks[refusedAt];
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    status: 429,
    error: `rate limit: too many ${c.what} (at most ${c.limiter.max}, refilled ${c.limiter.refill} per ` +
      `${c.limiter.intervalMs} ms); retry after ${retryAfterSeconds} s`,
    field: c.field,
    retryAfterSeconds,
  };
}
