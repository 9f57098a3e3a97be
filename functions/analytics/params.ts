// Query parameters of the analytics endpoints: ?start=YYYY-MM-DD&end=YYYY-MM-DD&tz=IANA&limit=N,
// and optionally compare=previous (add the previous period) and format=csv&table=NAME (one table
// of the response as CSV). A period is start..end, half-open, in days of the time zone `tz`
// (default UTC); without start/end it is the last 30 days ending with today in that zone.
import { z } from "zod";

export const MAX_PERIOD_DAYS = 366;
const DAY_MS = 86_400_000;

// The dates PostgreSQL and this API agree on: year 0 and BC dates are PostgreSQL dates too (or
// not: '0000-01-01' is out of its range), but no period of this product starts there. The RPCs
// apply the same rule (public.dashboard_date_parameter).
const FIRST_DATE = "0001-01-01";
const LAST_DATE = "9999-12-31";

function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s && s >= FIRST_DATE;
}

// An IANA zone name: `Area/Location`, or a legacy single name (UTC, EST5EDT, Etc/GMT+5). Intl also
// takes offsets ("+05:30"), which PostgreSQL would read as a POSIX rule with the opposite sign:
// those are refused by their shape. The RPC is the final word (dashboard.time_zone_names), so a
// name Intl knows and PostgreSQL does not ("PST") is refused there with the same 400.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

export function isTimeZone(tz: string): boolean {
  if (!ZONE_NAME.test(tz)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The one message for a bad zone, from the function and (with `p_tz`) from the RPC. */
export const TZ_RULE = "must be an IANA time zone name (e.g. Europe/Berlin) or UTC";

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine(isRealDate, `is not a real calendar date between ${FIRST_DATE} and ${LAST_DATE}`);

const baseQuery = z.object({
  start: date.optional(),
  end: date.optional(),
  tz: z.string().min(1, TZ_RULE).max(64, TZ_RULE).refine(isTimeZone, TZ_RULE).default("UTC"),
  limit: z.coerce.number({ message: "must be an integer" }).int("must be an integer")
    .min(1, "must be at least 1").max(100, "must be at most 100").default(10),
  compare: z.enum(["previous"], { message: "must be previous" }).optional(),
  format: z.enum(["json", "csv"], { message: "must be json or csv" }).default("json"),
  table: z.string().max(32).optional(),
});

export type PeriodQuery = {
  start: string;
  end: string;
  tz: string;
  limit: number;
  compare?: "previous";
  format: "json" | "csv";
  table?: string;
};

/** Today's date in `tz`, as YYYY-MM-DD. */
export function todayIn(tz: string, now = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(now);
}

/** d + n days, or null past the range of dates (toISOString writes years beyond 9999 as +010000). */
function addDays(d: string, n: number): string | null {
  const out = new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
  return /^\d{4}-/.test(out) && out >= FIRST_DATE && out <= LAST_DATE ? out : null;
}

export type ParamError = { field: string; error: string };

/** Parses and checks the period parameters; the error names the parameter and the rule. */
export function parsePeriodQuery(params: URLSearchParams, now = new Date()): PeriodQuery | ParamError {
  const raw: Record<string, string> = {};
  for (const k of ["start", "end", "tz", "limit", "compare", "format", "table"]) {
    const v = params.get(k);
    if (v !== null && v !== "") raw[k] = v;
  }
  const parsed = baseQuery.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? "query");
    return { field, error: `${field} ${issue.message}` };
  }
  const { tz, limit, compare, format, table } = parsed.data;
  const given = parsed.data;
  const end = given.end ?? (given.start ? addDays(given.start, 30) : addDays(todayIn(tz, now), 1));
  if (end === null) return { field: "start", error: `start must be at most 30 days before ${LAST_DATE} when end is not given` };
  const start = given.start ?? addDays(end, -30);
  if (start === null) return { field: "end", error: `end must be at least 30 days after ${FIRST_DATE} when start is not given` };
  const days = (Date.parse(end) - Date.parse(start)) / DAY_MS;
  if (days <= 0) return { field: "end", error: "end must be after start" };
  if (days > MAX_PERIOD_DAYS) {
    return { field: "end", error: `end must be at most ${MAX_PERIOD_DAYS} days after start` };
  }
  return { start, end, tz, limit, compare, format, table };
}
