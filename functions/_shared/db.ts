// Database clients. `asCaller` forwards the caller's own JWT so PostgREST runs the query as that
// user and row-level security applies; `asService` is for work the service role alone may do.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { env } from "./env.ts";
import { publishableApiKeys, secretApiKeys } from "./auth.ts";

const options = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };

// The project's API keys: the new ones (SUPABASE_PUBLISHABLE_KEYS / SUPABASE_SECRET_KEYS, which
// Supabase injects) when present, else the legacy JWT keys. The gateway maps either to its role.
const publishableKey = () => publishableApiKeys()[0] ?? env("SUPABASE_ANON_KEY");
const secretKey = () => secretApiKeys()[0] ?? env("SUPABASE_SERVICE_ROLE_KEY");

export function asCaller(token: string): SupabaseClient {
  return createClient(env("SUPABASE_URL"), publishableKey(), {
    ...options,
    global: { headers: { Authorization: `Bearer ${token}` } },
  });
}

/** The anon role, for a caller that presented only the publishable key. */
export function asAnon(): SupabaseClient {
  return createClient(env("SUPABASE_URL"), publishableKey(), options);
}

let service: SupabaseClient | null = null;
export function asService(): SupabaseClient {
  service ??= createClient(env("SUPABASE_URL"), secretKey(), options);
  return service;
}

// A direct, pooled connection (SUPABASE_DB_URL, which Supabase injects into every function) for
// the hot write path: one SQL call without PostgREST's JSON round trip through the gateway.
// `prepare: false` keeps it usable behind Supavisor's transaction pooler on hosted Supabase.
let direct: ReturnType<typeof postgres> | null = null;
export function directDb(): ReturnType<typeof postgres> {
  direct ??= postgres(env("SUPABASE_DB_URL"), {
    max: 4,
    prepare: false,
    idle_timeout: 60,
    onnotice: () => {},
  });
  return direct;
}
