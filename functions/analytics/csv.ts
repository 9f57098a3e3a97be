// CSV downloads of what the dashboard shows: each table of a JSON response, with the JSON's own
// key names as column names, so a CSV row and a JSON array element say the same thing. Written
// with csv-stringify (quoting, escaping); cells that a spreadsheet would run as a formula (a title
// starting with =, +, -, @) get a leading ' (OWASP's CSV-injection advice). Numbers are untouched.
import { stringify } from "csv-stringify/sync";

type Json = Record<string, any>;
type Table = { columns: string[]; rows: Record<string, unknown>[] };

/** The tables of each response, by the name `?table=` takes. */
const DASHBOARD_TABLES: Record<string, (d: Json) => Table> = {
  daily: (d) =>
    daily(
      d.trends.playsOverTime.map((p: Json, i: number) => ({
        date: p.date,
        plays: p.plays,
        likes: d.trends.likesOverTime[i].likes,
      })),
      d.comparison && d.comparison.trends.playsOverTime.map((p: Json, i: number) => ({
        date: p.date,
        plays: p.plays,
        likes: d.comparison.trends.likesOverTime[i].likes,
      })),
    ),
  topContent: (d) => ({ columns: ["mashupId", "title", "plays", "likes", "growth"], rows: d.topContent }),
  sources: (d) => ({ columns: ["source", "count", "percentage"], rows: d.sources }),
  countries: (d) => ({ columns: ["country", "percentage"], rows: d.demographics.countries }),
  devices: (d) => ({ columns: ["device", "percentage"], rows: d.demographics.devices }),
};

const MASHUP_TABLES: Record<string, (m: Json) => Table> = {
  daily: (m) => daily(m.daily, m.comparison?.daily),
  // One row per drop-off checkpoint; the period's average watch time and completion rate repeat on
  // each, so the file holds the whole retention object.
  retention: (m) => ({
    columns: ["time", "percentage", "avgWatchTime", "completionRate"],
    rows: m.retention.dropOffPoints.map((p: Json) => ({
      ...p,
      avgWatchTime: m.retention.avgWatchTime,
      completionRate: m.retention.completionRate,
    })),
  }),
  peakTimes: (m) => ({ columns: ["hour", "plays"], rows: m.peakTimes }),
};

/** Day by day; with compare=previous, the previous period's same-numbered day beside each. */
function daily(current: Json[], previous?: Json[]): Table {
  if (!previous) return { columns: ["date", "plays", "likes"], rows: current };
  return {
    columns: ["date", "plays", "likes", "previousDate", "previousPlays", "previousLikes"],
    rows: current.map((c, i) => ({
      ...c,
      previousDate: previous[i].date,
      previousPlays: previous[i].plays,
      previousLikes: previous[i].likes,
    })),
  };
}

export const CSV_TABLES = {
  dashboard: Object.keys(DASHBOARD_TABLES),
  mashup: Object.keys(MASHUP_TABLES),
};

/** The table's name if the response has it, else null. */
export function csvTable(kind: "dashboard" | "mashup", table: string | undefined): string | null {
  const tables = kind === "dashboard" ? DASHBOARD_TABLES : MASHUP_TABLES;
  return table !== undefined && Object.hasOwn(tables, table) ? table : null;
}

export function toCsv(kind: "dashboard" | "mashup", table: string, body: Json): string {
  const { columns, rows } = (kind === "dashboard" ? DASHBOARD_TABLES : MASHUP_TABLES)[table](body);
  return stringify(rows, { header: true, columns, escape_formulas: true, cast: { boolean: String } });
}
