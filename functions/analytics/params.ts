// Query parameters of the analytics endpoints: ?start=YYYY-MM-DD&end=YYYY-MM-DD&tz=IANA&limit=N,
// and optionally compare=previous (add the previous period) and format=csv&table=NAME (one table
// of the response as CSV). A period is start..end, half-open, in days of the time zone `tz`
// (default UTC); without start/end it is the last 30 days ending with today in that zone.
import { z } from "zod";

export const MAX_PERIOD_DAYS = 366;
const DAY_MS = 86_400_000;

function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine(isRealDate, "is not a real calendar date");

const baseQuery = z.object({
  start: date.optional(),
  end: date.optional(),
  tz: z.string().min(1).max(64).refine(isTimeZone, "is not a known IANA time zone").default("UTC"),
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

function addDays(d: string, n: number): string {
  return new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
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
  let { start, end } = parsed.data;
  if (!end) end = start ? addDays(start, 30) : addDays(todayIn(tz, now), 1);
  if (!start) start = addDays(end, -30);
  const days = (Date.parse(end) - Date.parse(start)) / DAY_MS;
  if (days <= 0) return { field: "end", error: "end must be after start" };
  if (days > MAX_PERIOD_DAYS) {
    return { field: "end", error: `end must be at most ${MAX_PERIOD_DAYS} days after start` };
  }
  return { start, end, tz, limit, compare, format, table };
}
