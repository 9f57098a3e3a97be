// Direct database access for test fixtures (creating users, inserting raw events, running jobs):
// what an operator does with psql, never what a client can do.
import postgres from "postgres";
import { SignJWT } from "jose";
import { ENV } from "./env.ts";
import { teardown } from "./teardown.ts";

export const sql = postgres(ENV.SUPABASE_DB_URL, { max: 4, onnotice: () => {} });

/** A file's afterAll: closes the pool, destroying connections still open after 5 s (see teardown.ts). */
export const endSql = teardown("the postgres.js pool", () => sql.end({ timeout: 5 }));

/** Creates a signed-in-able user and returns its id and an access token for it. */
export async function createUser(label: string): Promise<{ id: string; email: string; token: string }> {
  const id = crypto.randomUUID();
  const email = `${label}-${id.slice(0, 8)}@test.local`;
  await sql`insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
            values (${id}, 'authenticated', 'authenticated', ${email}, '{"provider":"email"}', ${
    sql.json({ display_name: label })
  })`;
  return { id, email, token: await userToken(id, email) };
}

/** An access token for a user, signed with the project's JWT secret as Supabase Auth signs it. */
export function userToken(id: string, email: string): Promise<string> {
  return new SignJWT({ role: "authenticated", aud: "authenticated", email })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(id)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET));
}
