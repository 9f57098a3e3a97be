// Reading a PostHog event export, one record at a time, into the event shape PostHog's capture
// API takes ({ uuid, event, distinct_id, timestamp, properties }), which the track function's
// PostHog path then maps exactly as it maps live posthog-js / posthog-node traffic.
//
// Formats PostHog exports events in:
//   JSON lines  batch exports / file downloads (JSONLines): one event object per line, with
//               `properties` an object or a JSON-encoded string, ClickHouse-style timestamps
//               ("2026-03-01 12:00:00.123456") or ISO-8601, and extra columns (person_id,
//               team_id, elements_chain, created_at, ...) that are not needed here.
//   CSV         the same columns, `properties` as a JSON string; or the events table's CSV
//               download, which has the whole event as JSON in a `*` column, or flattened
//               `properties.<name>` columns.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parse as parseCsv } from "csv-parse";

export type PostHogEvent = {
  uuid?: string;
  event?: unknown;
  distinct_id?: string;
  timestamp?: string;
  properties: Record<string, unknown>;
};

/** One record of the file: its position (0-based), the bytes read through it, and the event or why not. */
export type ExportRecord = { index: number; bytes: number } & ({ event: PostHogEvent } | { error: string });

export type ExportFormat = "jsonl" | "csv";

/** The format by extension (.csv, else JSON lines), or by the first byte when there is none to go by. */
export async function formatOf(path: string): Promise<ExportFormat> {
  if (/\.csv(\.txt)?$/i.test(path)) return "csv";
  if (/\.(jsonl|ndjson|json)$/i.test(path)) return "jsonl";
  const f = await Deno.open(path);
  const buf = new Uint8Array(64);
  const n = (await f.read(buf)) ?? 0;
  f.close();
  const head = new TextDecoder().decode(buf.subarray(0, n)).trimStart();
  return head.startsWith("{") ? "jsonl" : "csv";
}

export async function* readExport(path: string, format: ExportFormat): AsyncGenerator<ExportRecord> {
  if (format === "jsonl") yield* readJsonLines(path);
  else yield* readCsv(path);
}

async function* readJsonLines(path: string): AsyncGenerator<ExportRecord> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let bytes = 0;
  let index = 0;
  for await (const line of lines) {
    bytes += new TextEncoder().encode(line).byteLength + 1;
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      yield { index: index++, bytes, error: "not a JSON object" };
      continue;
    }
    yield { index: index++, bytes, ...fromExportObject(parsed) };
  }
}

async function* readCsv(path: string): AsyncGenerator<ExportRecord> {
  const parser = createReadStream(path).pipe(
    parseCsv({ columns: true, bom: true, info: true, relax_column_count: true, skip_empty_lines: true }),
  );
  let index = 0;
  for await (
    const { record, info } of parser as AsyncIterable<
      { record: Record<string, string>; info: { bytes: number } }
    >
  ) {
    yield { index: index++, bytes: info.bytes, ...fromCsvRow(record) };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON-encoded object (Parquet and CSV exports) or the object itself. */
function objectOf(value: unknown): Record<string, unknown> | null {
  if (isObject(value)) return value;
  if (typeof value !== "string" || value.trim() === "") return null;
  try {
    const parsed = JSON.parse(value);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** ClickHouse's "YYYY-MM-DD HH:MM:SS[.ffffff]" is UTC; ISO-8601 passes through; either becomes ISO with Z. */
export function normaliseTimestamp(value: unknown): string | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  let text = value.trim().replace(" ", "T");
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(text)) text += "Z";
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

function fromExportObject(row: unknown): { event: PostHogEvent } | { error: string } {
  if (!isObject(row)) return { error: "not a JSON object" };
  const properties = objectOf(row.properties) ?? {};
  // Exports carry the session as a column too; the capture API reads it from the properties.
  const sessionId = row.$session_id ?? row.session_id;
  if (properties.$session_id === undefined && typeof sessionId === "string" && sessionId) {
    properties.$session_id = sessionId;
  }
  const uuid = row.uuid ?? row.id;
  return {
    event: {
      uuid: typeof uuid === "string" && uuid ? uuid : undefined,
      event: row.event,
      distinct_id: typeof row.distinct_id === "string" ? row.distinct_id : undefined,
      timestamp: normaliseTimestamp(row.timestamp),
      properties,
    },
  };
}

/** A CSV cell of a flattened property: CSV has no types, so numbers, booleans and JSON come back from text. */
function cellValue(cell: string): unknown {
  if (/^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(cell) || /^[[{]/.test(cell)) {
    try {
      return JSON.parse(cell);
    } catch {
      return cell;
    }
  }
  return cell;
}

function fromCsvRow(row: Record<string, string>): { event: PostHogEvent } | { error: string } {
  const whole = objectOf(row["*"]);
  if (whole) return fromExportObject(whole);
  const properties = objectOf(row.properties) ?? {};
  for (const [column, cell] of Object.entries(row)) {
    if (column.startsWith("properties.") && cell !== "") {
      properties[column.slice("properties.".length)] = cellValue(cell);
    }
  }
  return fromExportObject({ ...row, properties });
}
