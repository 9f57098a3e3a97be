// Database clients. `asCaller` forwards the caller's own JWT so PostgREST runs the query as that
// user and row-level security applies; `asService` is for work the service role alone may do.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { env } from "./env.ts";

const options = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };

export function asCaller(token: string): SupabaseClient {
  return createClient(env("SUPABASE_URL"), env("SUPABASE_ANON_KEY"), {
    ...options,
    global: { headers: { Authorization: `Bearer ${token}` } },
  });
}

let service: SupabaseClient | null = null;
export function asService(): SupabaseClient {
  service ??= createClient(env("SUPABASE_URL"), env("SUPABASE_SERVICE_ROLE_KEY"), options);
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
