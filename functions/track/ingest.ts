// From raw events to stored rows: validate each event against its schema, apply the identity
// rules, enrich, store the batch with one RPC (public.ingest_events, deduplicating on the event
// id), then bump the realtime counters for the newly stored events only.
import type { directDb } from "../_shared/db.ts";
import { isStorableText, parseEvent, type TrackEvent, type TrackResponse, UNSTORABLE_TEXT } from "../../types/events.ts";
import type { Caller } from "../_shared/auth.ts";
import { type RealtimeEvent, recordRealtime } from "../_shared/realtime.ts";
import { type Agent, agentOf, EARLIEST, eventTime, MAX_AGE_MS, normaliseSource } from "./enrich.ts";

/** One received event before validation, with the User-Agent that speaks for it when not the request's.
 * `fieldNames` renames the native fields in errors to the names the sender used (PostHog's). */
export type Received =
  | { ignored: true }
  | { ignored: false; input: unknown; userAgent: string | null; fieldNames?: Record<string, string> };

/** What the request itself says about every event in it. */
export type RequestContext = {
  caller: Caller;
  receivedAt: Date;
  sentAt: Date | null;
  country: string | null;
  userAgent: string | null;
};

/** A row for public.ingest_events. Absent fields are null there: leaving them out keeps the RPC body small. */
type IngestRow = {
  id: string;
  type: TrackEvent["type"];
  properties: Record<string, unknown>;
  timestamp?: string;
  user_id?: string;
  session_id?: string;
  anonymous_id?: string;
  country?: string;
  device?: string;
  bot?: true;
  user_agent?: string;
  /** The client's time when it was outside the window (stored at receive time): ingest_events
   * refuses the event when even this is before the retention horizon. */
  client_timestamp?: string;
};

/** rows[i] came from the request's events[indexes[i]]. */
type Prepared = {
  rows: IngestRow[];
  indexes: number[];
  rejected: TrackResponse["rejected"];
  ignored: number;
};

/** Validation, identity and enrichment of every event; nothing here talks to a database. */
export function prepare(received: Received[], ctx: RequestContext): Prepared {
  const rows: IngestRow[] = [];
  const indexes: number[] = [];
  const rejected: TrackResponse["rejected"] = [];
  let ignored = 0;
  const agents = new Map<string, Agent>();
  // The user is the verified token's subject, or nobody: a user id in the body is never read.
  const userId = ctx.caller.kind === "user" ? ctx.caller.userId : null;
  // The service role imports history: its events keep their time, whatever its age. The database
  // alone knows the retention horizon (raw_events.horizon(): the settings an operator may change,
  // never before a dropped month) and refuses an event before it, by name (below, in `store`).
  const service = ctx.caller.kind === "service";
  const oldest = service ? EARLIEST : new Date(ctx.receivedAt.getTime() - MAX_AGE_MS);

  received.forEach((item, index) => {
    if (item.ignored) {
      ignored++;
      return;
    }
    const parsed = parseEvent(item.input, index);
    if (!parsed.ok) {
      rejected.push({ index, error: renamed(parsed.error, index, item.fieldNames) });
      return;
    }
    if (item.userAgent !== null && !isStorableText(item.userAgent)) {
      rejected.push({ index, error: `events[${index}].properties.$raw_user_agent: ${UNSTORABLE_TEXT}` });
      return;
    }
    const event = parsed.event;
    if (!userId && !event.anonymous_id && !event.session_id) {
      // Named as the sender names them (a PostHog client: distinct_id, properties.$session_id).
      const name = (field: string) => item.fieldNames?.[field] ?? field;
      rejected.push({
        index,
        error: `events[${index}].${name("anonymous_id")}: Required: an event without a signed-in user needs ${
          name("anonymous_id")
        } or ${name("session_id")}`,
      });
      return;
    }

    const agent = agentOf(item.userAgent ?? ctx.userAgent, agents);
    // The service role is a server of the project (its secret key): its own HTTP library's
    // User-Agent (python-requests, Java, Apache-HttpClient: bots to isbot) says nothing of a bot, and
    // its events were dropped as bot traffic. An event's own user agent ($raw_user_agent) still does.
    const bot = agent.bot && (item.userAgent !== null || !service);
    const time = eventTime(event.timestamp, ctx.receivedAt, ctx.sentAt, oldest);
    if (service && time.unstorable) {
      // Outside any retention horizon: refused on its own, as the database refuses an old event.
      const name = item.fieldNames?.timestamp ?? "timestamp";
      rejected.push({
        index,
        error: `events[${index}].${name}: ${event.timestamp} falls outside the years 0001 to 9999${
          ctx.sentAt ? " once corrected by the batch's sent_at" : ""
        }, outside the months raw events are kept for; the event is not stored`,
      });
      return;
    }
    const properties: Record<string, unknown> = { ...event.properties };
    if (event.type === "mashup_played") properties.source = normaliseSource(event.properties.source);
    if (time.outOfWindow) properties.client_timestamp = event.timestamp;

    indexes.push(index);
    rows.push({
      id: event.id ?? crypto.randomUUID(),
      type: event.type,
      properties,
      timestamp: time.timestamp ?? undefined,
      user_id: userId ?? undefined,
      session_id: event.session_id,
      anonymous_id: event.anonymous_id,
      country: ctx.country ?? undefined,
      device: agent.device ?? undefined,
      ...(bot ? { bot: true as const, user_agent: agent.userAgent ?? undefined } : {}),
      ...(time.outOfWindow ? { client_timestamp: event.timestamp } : {}),
    });
  });
  return { rows, indexes, rejected, ignored };
}

/** `events[3].anonymous_id: ...` as the sender named it, e.g. `events[3].distinct_id: ...`. */
function renamed(error: string, index: number, names: Record<string, string> | undefined): string {
  if (!names) return error;
  const at = `events[${index}].`;
  return error.split("; ").map((part) => {
    for (const [native, theirs] of Object.entries(names)) {
      if (part.startsWith(`${at}${native}:`)) return `${at}${theirs}${part.slice(at.length + native.length)}`;
    }
    return part;
  }).join("; ");
}

type IngestResult = {
  ordinality: number;
  id: string;
  is_new: boolean;
  timestamp: Date | string | null;
  listener_key: string | null;
  /** analytics_events.received_at (the statement's now()) in epoch µs, exact: realtime's fence compares it. */
  received_us: string;
};

type DirectDb = ReturnType<typeof directDb>;

export class StoreError extends Error {}

/** Stores the rows with one call of public.ingest_events over the direct connection; returns the
 * response and the events new to analytics_events. */
export async function store(
  db: DirectDb,
  prepared: Prepared,
): Promise<{ response: TrackResponse; fresh: RealtimeEvent[] }> {
  const response: TrackResponse = {
    accepted: 0,
    duplicates: 0,
    rejected: prepared.rejected,
    ignored: prepared.ignored,
  };
  const fresh: RealtimeEvent[] = [];
  if (prepared.rows.length === 0) return { response, fresh };

  let data: IngestResult[];
  try {
    // In an explicit transaction, answered only once COMMIT has returned. As one autocommitted
    // statement, postgres.js resolved with the statement's rows before the server's commit: when
    // another backend died (kill -9, the OOM killer) in between, PostgreSQL restarted, the insert
    // rolled back, and the client had a 200 with every event "accepted" and stored nowhere (found
    // from outside under load, docs/ingestion.md). A client that gets an error retries the same ids.
    data = await db.begin((tx) =>
      tx<IngestResult[]>`
        select ordinality::int as ordinality, id, is_new, "timestamp", listener_key,
               (extract(epoch from now()) * 1000000)::bigint::text as received_us
        from public.ingest_events(${tx.json(prepared.rows as never)}::jsonb)`
    );
  } catch (e) {
    throw new StoreError(`ingest_events: ${(e as Error).message}`, { cause: e });
  }

  for (const result of data) {
    const row = prepared.rows[result.ordinality - 1];
    if (!result.is_new && result.timestamp) {
      // Not a duplicate: its time is outside the months raw storage keeps (raw_events.horizon()).
      const index = prepared.indexes[result.ordinality - 1];
      response.rejected.push({
        index,
        // The time as the client sent it when that is what the database judged (out of the window:
        // properties.client_timestamp), else the time this function sent; the database's echo of
        // year 1 would read back as 2001 (JavaScript's Date outside ISO-8601).
        error: `events[${index}].timestamp: ${
          typeof row.properties.client_timestamp === "string"
            ? row.properties.client_timestamp
            : row.timestamp ?? isoOr(result.timestamp)
        } is outside the months raw events are kept for (retention horizon); the event is not stored`,
      });
    } // Bot traffic is kept apart and counted nowhere, not even as accepted.
    else if (row.bot) response.ignored++;
    else if (!result.is_new) response.duplicates++;
    else {
      response.accepted++;
      fresh.push({
        id: result.id,
        type: row.type,
        mashupId: typeof row.properties.mashup_id === "string" ? row.properties.mashup_id : null,
        // Only a follow names its creator; a mashup's creator comes from the database, never the client.
        creatorId: row.type === "user_followed" && typeof row.properties.creator_id === "string"
          ? row.properties.creator_id
          : undefined,
        receivedAtUs: Number(result.received_us),
        listenerKey: result.listener_key!,
        timestamp: isoOr(result.timestamp!),
        properties: row.properties,
      });
    }
  }
  return { response, fresh };
}

/** A time the database answered, as ISO-8601; as the database wrote it when JavaScript cannot read it
 * (a BC time): shaping the answer runs after the commit and must not fail it. */
function isoOr(time: string | Date): string {
  const ms = new Date(time).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(time);
}

/** How long ingestion waits for Redis before answering anyway (the events are already stored). */
const REALTIME_TIMEOUT_MS = 1000;

/** Counters for new events; a Redis failure is logged, never passed to the client. */
export async function countRealtime(fresh: RealtimeEvent[]): Promise<void> {
  if (fresh.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      recordRealtime(fresh),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${REALTIME_TIMEOUT_MS} ms`)),
          REALTIME_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (e) {
    console.error(
      `[track] realtime counters not updated for ${fresh.length} events: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
}
