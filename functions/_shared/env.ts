/** A required environment variable; Supabase injects SUPABASE_* into every function. */
export function env(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
}
