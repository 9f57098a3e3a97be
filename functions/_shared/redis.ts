// The Upstash Redis client (REST). Locally UPSTASH_REDIS_REST_URL points at the stack's Upstash
// REST endpoint; on hosted Supabase set it with `supabase secrets set`.
import { Redis } from "@upstash/redis";
import { env } from "./env.ts";

let redis: Redis | null = null;
export function redisClient(): Redis {
  // No retries: a Redis outage must fail fast, callers decide what to do (ingestion logs it).
  redis ??= new Redis({
    url: env("UPSTASH_REDIS_REST_URL"),
    token: env("UPSTASH_REDIS_REST_TOKEN"),
    retry: false,
  });
  return redis;
}

let bulk: Redis | null = null;
/**
 * The same Redis without base64 responses, for the realtime sync's bulk reads: they are ASCII
 * keys and integers only, and base64 costs several times the transfer itself on a few MB.
 */
export function redisBulkClient(): Redis {
  bulk ??= new Redis({
    url: env("UPSTASH_REDIS_REST_URL"),
    token: env("UPSTASH_REDIS_REST_TOKEN"),
    retry: false,
    responseEncoding: false,
  });
  return bulk;
}
