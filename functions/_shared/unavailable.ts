// A database that is down, restarting or out of connections is a 503 with Retry-After, not a 500:
// clients and an operator's alerting tell "try again in a moment" from "a bug" by the status.
import { jsonError } from "./http.ts";

/** Seconds a client is asked to wait: a killed PostgreSQL is back within a few (the stack's supervisor
 * restarts it; crash recovery replays at most max_wal_size). */
export const RETRY_AFTER_SECONDS = 5;

// postgres.js's own codes for a connection that failed or went away, and the socket errors it passes on.
const CONNECTION_LOST = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
]);
// SQLSTATEs of a server that cannot take the query now: 08 connection exceptions; 57P01 admin
// shutdown, 57P02 crash shutdown (another backend was killed), 57P03 cannot connect now (starting
// up, recovering); 53300 too many connections.
const SERVER_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
// PostgREST's: 000 cannot connect, 001 connection lost, 002 schema cache not loaded, 003 pool timeout.
const POSTGREST_UNAVAILABLE = /^PGRST00[0-3]$/;

/** Whether a postgres.js or PostgREST (supabase-js) error means the database is unavailable. */
export function databaseUnavailable(error: unknown, httpStatus?: number): boolean {
  if (httpStatus === 502 || httpStatus === 503 || httpStatus === 504) return true;
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== "string") return false;
  // PostgREST 12 answers a query whose connection died under it (libpq's own error, no SQLSTATE)
  // with 400 and an empty code and message; measured while PostgreSQL was killed with -9.
  if (code === "" && (message === "" || message === undefined)) return true;
  return CONNECTION_LOST.has(code) || SERVER_UNAVAILABLE.test(code) || POSTGREST_UNAVAILABLE.test(code);
}

/** The 503 every function answers when the database is unavailable. */
export function databaseUnavailableResponse(error: string, field?: string): Response {
  return jsonError(503, error, field, { retry_after: RETRY_AFTER_SECONDS }, { "Retry-After": String(RETRY_AFTER_SECONDS) });
}
