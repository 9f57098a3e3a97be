// What integration tests need to reach the running stack: the values `npm start` wrote to
// .env.local, and supabase-js clients as the people who use the API.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { Database } from "../../types/database.ts";

function loadEnv(): Record<string, string> {
  const path = new URL("../../.env.local", import.meta.url);
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(path).split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export const ENV = loadEnv();
export const API_URL = ENV.SUPABASE_URL;
export const ANON_KEY = ENV.SUPABASE_ANON_KEY;
export const SERVICE_KEY = ENV.SUPABASE_SERVICE_ROLE_KEY;
/** The new API keys (not JWTs): sb_publishable_... acts as anon, sb_secret_... as the service role. */
export const PUBLISHABLE_KEY = ENV.SUPABASE_PUBLISHABLE_KEY;
export const SECRET_KEY = ENV.SUPABASE_SECRET_KEY;
export const DEMO_TOKEN = ENV.DEMO_CREATOR_TOKEN;
export const DEMO_ID = ENV.DEMO_CREATOR_ID;

const noSession = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };

/** A client holding only the publishable anon key, as a browser would before sign-in. */
export function anonClient(): SupabaseClient<Database> {
  return createClient<Database>(API_URL, ANON_KEY, noSession);
}

/** A client signed in with a user's access token (a JWT signed with the project's secret). */
export function userClient(accessToken: string): SupabaseClient<Database> {
  return createClient<Database>(API_URL, ANON_KEY, { ...noSession, accessToken: () => Promise.resolve(accessToken) });
}

export function serviceClient(): SupabaseClient<Database> {
  return createClient<Database>(API_URL, SERVICE_KEY, noSession);
}
