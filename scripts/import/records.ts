// Reading a PostHog event export, one record at a time, into the event shape PostHog's capture
// API takes ({ uuid, event, distinct_id, timestamp, properties }), which the track function's
// PostHog path then maps exactly as it maps live posthog-js / posthog-node traffic.
//
// Formats PostHog exports events in (each may be gzip-compressed: name.gz):
//   JSON lines  batch exports / file downloads (JSONLines): one event object per line, with
//               `properties` an object or a JSON-encoded string, ClickHouse-style timestamps
//               ("2026-03-01 12:00:00.123456") or ISO-8601, and extra columns (person_id,
//               team_id, elements_chain, created_at, ...) that are not needed here.
//   JSON        an array of such objects (the events table's JSON download)
//   CSV         the same columns, `properties` as a JSON string; or the events table's CSV
//               download, which has the whole event as JSON in a `*` column, or flattened
//               `properties.<name>` columns.
import { Buffer } from "node:buffer";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parse as parseCsv } from "csv-parse";

export type PostHogEvent = {
  uuid?: string;
  event?: unknown;
  distinct_id?: string;
  timestamp?: string;
  properties: Record<string, unknown>;
};

/** One record of the file: its position (0-based), the file's bytes read so far, and the event or why not. */
export type ExportRecord = { index: number; bytes: number } & ({ event: PostHogEvent } | { error: string });

export type ExportFormat = "jsonl" | "json" | "csv";

const gzipped = (path: string) => /\.gz$/i.test(path);

/** The first bytes of the (decompressed) file. */
async function head(path: string): Promise<string> {
  const stream = openExport(path).stream;
  for await (const chunk of stream) {
    stream.destroy();
    return new TextDecoder().decode(chunk as Uint8Array).slice(0, 64).trimStart();
  }
  return "";
}

/** The format by extension (.csv; .jsonl/.ndjson; .json holding an array or lines), else by the first byte. */
export async function formatOf(path: string): Promise<ExportFormat> {
  const name = path.replace(/\.gz$/i, "");
  if (/\.csv$/i.test(name)) return "csv";
  if (/\.(jsonl|ndjson)$/i.test(name)) return "jsonl";
  const first = (await head(path))[0];
  if (first === "[") return "json";
  return first === "{" ? "jsonl" : "csv";
}

/** The file as a stream (gunzipped when it ends in .gz), and how many bytes of the file were read. */
function openExport(path: string): { stream: Readable; bytesRead: () => number } {
  const file = createReadStream(path);
  const stream = gzipped(path) ? file.pipe(createGunzip()) : file;
  return { stream, bytesRead: () => file.bytesRead };
}

export async function* readExport(path: string, format: ExportFormat): AsyncGenerator<ExportRecord> {
  const { stream, bytesRead } = openExport(path);
  if (format === "jsonl") yield* readJsonLines(stream, bytesRead);
  else if (format === "json") yield* readJsonArray(stream, bytesRead);
  else yield* readCsv(stream, bytesRead);
}

async function* readJsonLines(input: Readable, bytes: () => number): AsyncGenerator<ExportRecord> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let index = 0;
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      yield { index: index++, bytes: bytes(), error: "not a JSON object" };
      continue;
    }
    yield { index: index++, bytes: bytes(), ...fromExportObject(parsed) };
  }
}

/** A JSON array of events (the events table's JSON download): read whole, it is one document. */
async function* readJsonArray(input: Readable, bytes: () => number): AsyncGenerator<ExportRecord> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of input) chunks.push(chunk as Uint8Array);
  const rows = JSON.parse(new TextDecoder().decode(Buffer.concat(chunks)));
  if (!Array.isArray(rows)) {
    throw new Error("a .json export must hold an array of events or one event per line");
  }
  for (const [index, row] of rows.entries()) yield { index, bytes: bytes(), ...fromExportObject(row) };
}

async function* readCsv(input: Readable, bytes: () => number): AsyncGenerator<ExportRecord> {
  const parser = input.pipe(
    parseCsv({ columns: true, bom: true, relax_column_count: true, skip_empty_lines: true }),
  );
  let index = 0;
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    yield { index: index++, bytes: bytes(), ...fromCsvRow(record) };
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
  let text = value.trim().replace(" ", "T").replace(/\s*UTC$/i, "Z");
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
