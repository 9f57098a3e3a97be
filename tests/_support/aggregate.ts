// Folds fixture events into the rollups the way an operator would after an import: the backfill
// procedure over the UTC days [from, to). (Fixture events carry old received_at times, which the
// 5-minute incremental job, reading by arrival, rightly leaves to a backfill.)
import { sql } from "./db.ts";

export async function aggregateDays(from: string, to: string): Promise<void> {
  await sql`call aggregation.backfill(${from}::date, ${to}::date)`;
}
