// bench/exactness.sql against the stack's database: every rollup of the whole database against a
// recount from the raw events. Loaded in a transaction that is rolled back, so the database keeps no
// check_rollups schema of it (db lint would check it). Run it when the queues are drained.
import type postgres from "postgres";
import { sql } from "./db.ts";

const EXACTNESS_SQL = new URL("../../bench/exactness.sql", import.meta.url).pathname;

export type Mismatch = { rollup: string; mismatched: string };
type OnMismatch = (tx: postgres.TransactionSql, rollups: string[]) => Promise<unknown>;

/**
 * The rollups whose rows differ from the recount ([] = exact). On a difference, onMismatch runs
 * inside the check's transaction (the recount's temporary tables are there) before it rolls back.
 */
export async function rollupMismatches(onMismatch: OnMismatch = printUserDailyDiff): Promise<Mismatch[]> {
  let mismatches: Mismatch[] = [];
  class RollBack extends Error {}
  try {
    await sql.begin(async (tx) => {
      await tx.file(EXACTNESS_SQL);
      mismatches = [...await tx<Mismatch[]>`
        select rollup, mismatched from check_rollups.mismatches() where mismatched <> 0`];
      if (mismatches.length > 0) await onMismatch(tx, mismatches.map((m) => m.rollup));
      throw new RollBack();
    });
  } catch (e) {
    if (!(e instanceof RollBack)) throw e;
  }
  return mismatches;
}

/** Prints (and returns) the user_daily_stats rows that differ: key, stored, recounted, the user's email. */
export async function printUserDailyDiff(tx: postgres.TransactionSql, rollups: string[]) {
  if (!rollups.includes("user_daily_stats")) return [];
  const diff = [...await tx<{ user_id: string; date: string; email: string; stored: string; recounted: string }[]>`
    select user_id, date::text, email, stored, recounted from check_rollups.user_daily_stats_diff()`];
  console.error("user_daily_stats rows that differ (mashups_created, plays_received, followers_gained):\n" +
    Deno.inspect(diff, { depth: 4 }));
  return diff;
}
