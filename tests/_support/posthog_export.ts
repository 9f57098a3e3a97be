// A generated PostHog event export, as PostHog's batch exports write it, and the numbers its
// import must produce, computed here from the generated events (independently of the SQL).
// Plays with progress and end heartbeats, likes and shares of a creator's mashups, spread over
// the ten months before today (UTC), sent as posthog-js sends them: camelCase properties,
// $session_id, $raw_user_agent, $referring_domain. Besides those: PostHog's own $pageview events
// (ignored), events older than the retention horizon (refused) and, in JSON lines, an unreadable line.
import { stringify } from "csv-stringify/sync";

export type ExportEvent = {
  uuid: string;
  event: string;
  distinct_id: string;
  timestamp: string;
  properties: Record<string, unknown>;
};

const DESKTOP_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const PHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const DAY_MS = 86_400_000;

function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type GeneratedExport = {
  /** Catalog events that must be stored, with their times. */
  events: ExportEvent[];
  /** PostHog's own events: accepted by the import and ignored. */
  ignored: ExportEvent[];
  /** Events older than the retention horizon: refused. */
  tooOld: ExportEvent[];
};

export function generateExport(
  mashups: { id: string; duration: number }[],
  plays: number,
  seed: number,
): GeneratedExport {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const from = today - 300 * DAY_MS;
  const to = today - 5 * DAY_MS;
  const events: ExportEvent[] = [];
  const ignored: ExportEvent[] = [];
  const ev = (event: string, distinct_id: string, at: number, properties: Record<string, unknown>) => ({
    uuid: crypto.randomUUID(),
    event,
    distinct_id,
    timestamp: new Date(at).toISOString(),
    properties,
  });
  for (let i = 0; i < plays; i++) {
    const m = pick(mashups);
    const at = from + Math.floor(r() * (to - from));
    const distinctId = `ph-visitor-${Math.floor(r() * 120)}`;
    const common = { $session_id: `ph-session-${i}`, $raw_user_agent: r() < 0.6 ? PHONE_UA : DESKTOP_UA };
    const playId = crypto.randomUUID();
    const via = r();
    events.push(ev("mashup_played", distinctId, at, {
      ...common,
      mashupId: m.id,
      playId,
      autoPlay: r() < 0.2,
      ...(via < 0.3 ? { source: "tiktok" } : via < 0.5 ? { $referring_domain: "t.co" } : {}),
    }));
    const furthest = r() < 0.4 ? m.duration : Math.max(1, Math.floor(r() * m.duration));
    for (let pos = 60; pos < furthest; pos += 60) {
      events.push(ev("mashup_play_progress", distinctId, at + pos * 1000, {
        ...common,
        mashupId: m.id,
        playId,
        positionSeconds: pos,
        durationSeconds: m.duration,
      }));
    }
    events.push(ev("mashup_play_ended", distinctId, at + furthest * 1000, {
      ...common,
      mashupId: m.id,
      playId,
      positionSeconds: furthest,
      durationSeconds: m.duration,
    }));
    const react = r();
    if (react < 0.3) events.push(ev("mashup_liked", distinctId, at + 30_000, { ...common, mashupId: m.id }));
    else if (react < 0.4) {
      events.push(
        ev("mashup_shared", distinctId, at + 40_000, { ...common, mashupId: m.id, platform: "whatsapp" }),
      );
    }
    if (r() < 0.2) {
      ignored.push(
        ev("$pageview", distinctId, at - 5_000, { ...common, $current_url: "https://example.test/" }),
      );
    }
  }
  const horizonPast = today - 430 * DAY_MS; // about 14 months: beyond the 13-month horizon
  const tooOld = mashups.map((m, i) =>
    ev("mashup_played", `ph-visitor-old-${i}`, horizonPast, {
      mashupId: m.id,
      autoPlay: false,
      $session_id: `old-${i}`,
    })
  );
  return { events, ignored, tooOld };
}

/** ClickHouse's timestamp form, as PostHog's exports write it: "YYYY-MM-DD HH:MM:SS.ffffff", UTC. */
export function clickhouseTime(iso: string): string {
  return iso.replace("T", " ").replace("Z", "000");
}

/** JSON lines, as a batch export writes them (extra columns, `properties` a JSON string in every other line). */
export function toJsonLines(rows: ExportEvent[], unreadableAt?: number): string {
  const lines = rows.map((e, i) =>
    JSON.stringify({
      uuid: e.uuid,
      event: e.event,
      distinct_id: e.distinct_id,
      person_id: crypto.randomUUID(),
      team_id: 1,
      timestamp: i % 3 === 0 ? clickhouseTime(e.timestamp) : e.timestamp,
      created_at: e.timestamp,
      elements_chain: "",
      properties: i % 2 === 0 ? JSON.stringify(e.properties) : e.properties,
    })
  );
  if (unreadableAt !== undefined) lines.splice(unreadableAt, 0, "{ this is not json");
  return lines.join("\n") + "\n";
}

/** CSV with the events model's columns, `properties` as a JSON string, written with csv-stringify. */
export function toCsv(rows: ExportEvent[]): string {
  return stringify(
    rows.map((
      e,
    ) => [e.uuid, e.event, e.distinct_id, clickhouseTime(e.timestamp), JSON.stringify(e.properties)]),
    { header: true, columns: ["uuid", "event", "distinct_id", "timestamp", "properties"] },
  );
}

/** Per mashup and UTC day: plays, unique listeners (distinct ids), likes, shares. */
export function expectedDaily(events: ExportEvent[]) {
  const out = new Map<string, { plays: number; listeners: Set<string>; likes: number; shares: number }>();
  for (const e of events) {
    const key = `${e.properties.mashupId}|${e.timestamp.slice(0, 10)}`;
    const row = out.get(key) ?? { plays: 0, listeners: new Set<string>(), likes: 0, shares: 0 };
    if (e.event === "mashup_played") {
      row.plays++;
      row.listeners.add(e.distinct_id);
    } else if (e.event === "mashup_liked") row.likes++;
    else if (e.event === "mashup_shared") row.shares++;
    else if (!out.has(key)) continue;
    out.set(key, row);
  }
  return new Map(
    [...out].map((
      [k, v],
    ) => [k, { plays: v.plays, unique_plays: v.listeners.size, likes: v.likes, shares: v.shares }]),
  );
}
