// Database clients. `asCaller` forwards the caller's own JWT so PostgREST runs the query as that
// user and row-level security applies; `asService` is for work the service role alone may do.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
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
