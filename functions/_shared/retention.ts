// The retention horizon: how old an event may be and still be kept. The service role (history
// imports, server-side senders) may send events of any age inside it; older ones are refused.
// The one place it is defined for the edge: when the database exposes its retention setting
// (issue 11), point this at it rather than adding a second number.

/** Months of history kept (issue 11's default). */
export const RETENTION_MONTHS = 13;

/** The oldest instant still inside the horizon, measured back from `now` in calendar months (UTC). */
export function retentionHorizon(now: Date): Date {
  const horizon = new Date(now.getTime());
  horizon.setUTCMonth(horizon.getUTCMonth() - RETENTION_MONTHS);
  return horizon;
}
