// The export reader on every form PostHog writes events in: the same events must come out of JSON
// lines, a JSON array, CSV with columns, CSV with the whole event in `*`, CSV with flattened
// `properties.<name>` columns, and each of them gzipped.
import { gzipSync } from "node:zlib";
import { stringify } from "csv-stringify/sync";
import { assertEquals } from "../_support/assert.ts";
import { clickhouseTime, type ExportEvent } from "../_support/posthog_export.ts";
import { formatOf, type PostHogEvent, readExport } from "../../scripts/import/records.ts";

const events: ExportEvent[] = [
  {
    uuid: crypto.randomUUID(),
    event: "mashup_played",
    distinct_id: "visitor-1",
    timestamp: "2026-02-03T04:05:06.789Z",
    properties: { mashupId: crypto.randomUUID(), autoPlay: true, $session_id: "s-1", source: '=tiktok, "x"' },
  },
  {
    uuid: crypto.randomUUID(),
    event: "mashup_play_progress",
    distinct_id: "visitor-2",
    timestamp: "2026-05-06T23:59:59.000Z",
    properties: {
      mashupId: crypto.randomUUID(),
      playId: crypto.randomUUID(),
      positionSeconds: 60,
      durationSeconds: 180.5,
    },
  },
  {
    uuid: crypto.randomUUID(),
    event: "$pageview",
    distinct_id: "visitor-1",
    timestamp: "2026-02-03T04:05:00.000Z",
    properties: {},
  },
];
const expected: PostHogEvent[] = events.map((e) => ({ ...e }));

async function read(name: string, text: string, gzip = false): Promise<PostHogEvent[]> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${name}${gzip ? ".gz" : ""}`;
  await Deno.writeFile(
    path,
    gzip ? gzipSync(new TextEncoder().encode(text)) : new TextEncoder().encode(text),
  );
  const out: PostHogEvent[] = [];
  for await (const r of readExport(path, await formatOf(path))) {
    if ("error" in r) throw new Error(r.error);
    out.push(r.event);
  }
  await Deno.remove(dir, { recursive: true });
  return out;
}

const forms: Record<string, [string, string]> = {
  "JSON lines (ClickHouse times, properties as a string)": [
    "events.jsonl",
    events.map((e) =>
      JSON.stringify({
        ...e,
        timestamp: clickhouseTime(e.timestamp),
        properties: JSON.stringify(e.properties),
        team_id: 2,
      })
    ).join("\n"),
  ],
  "JSON array": ["events.json", JSON.stringify(events)],
  "CSV with columns": [
    "events.csv",
    stringify(events.map((e) => ({ ...e, properties: JSON.stringify(e.properties) })), {
      header: true,
      columns: ["uuid", "event", "distinct_id", "timestamp", "properties"],
    }),
  ],
  "CSV with the event in `*`": [
    "events.csv",
    stringify(events.map((e) => ({ "*": JSON.stringify(e), event: e.event })), {
      header: true,
      columns: ["*", "event"],
    }),
  ],
  "CSV with flattened properties": [
    "export",
    stringify(
      events.map((e) => ({
        uuid: e.uuid,
        event: e.event,
        distinct_id: e.distinct_id,
        timestamp: `${clickhouseTime(e.timestamp)} UTC`,
        ...Object.fromEntries(Object.entries(e.properties).map(([k, v]) => [`properties.${k}`, String(v)])),
      })),
      {
        header: true,
        columns: [
          "uuid",
          "event",
          "distinct_id",
          "timestamp",
          ...new Set(events.flatMap((e) => Object.keys(e.properties).map((k) => `properties.${k}`))),
        ],
      },
    ),
  ],
};

for (const [form, [name, text]] of Object.entries(forms)) {
  for (const gzip of [false, true]) {
    Deno.test(`import reader: ${form}${gzip ? ", gzipped" : ""}`, async () => {
      assertEquals(await read(name, text, gzip), expected);
    });
  }
}
