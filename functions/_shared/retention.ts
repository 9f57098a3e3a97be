// The retention horizon: how old an event may be and still be kept. The service role (history
// imports, server-side senders) may send events of any age inside it; older ones are refused.
// The database is the authority: raw_events.horizon() (issue 11; 00:00 UTC on the first day of the
// month raw_events.settings.retention_months before the current one), and public.ingest_events
// refuses any event before it, which the track function reports by name. This mirror lets the
// edge refuse such events before the database call with the same default; if an operator changes
// retention_months, the database's answer still applies (docs/raw-storage.md).

/** Months of history kept before the current month (raw_events.settings' default). */
export const RETENTION_MONTHS = 13;

/** The oldest instant still inside the horizon: the first of the month RETENTION_MONTHS before `now`'s (UTC). */
export function retentionHorizon(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - RETENTION_MONTHS, 1));
}
