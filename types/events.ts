// The event catalog of ../shared/spec/contract.md as zod schemas, one per event type, and the
// TypeScript types inferred from them. Shared by the track function (validation at the edge), the
// typed client (types/client.ts) and the tests, so the three can never disagree.
//
// Every event: `type`; optional client `id` (uuid, the idempotency key); optional client
// `timestamp` (ISO-8601 with a zone); `session_id`; `anonymous_id` when no user is signed in
// (checked by the function, which alone knows whether the caller is signed in). The user id is
// never part of an event: it comes from the caller's verified JWT. Keys the catalog does not name
// (a `user_id` in the body, extra properties) are dropped by the schemas and never stored.
import { z } from "zod";

/** Limits of one request, enforced by the track function (413 beyond them). */
export const MAX_BATCH_EVENTS = 500;
export const MAX_BODY_BYTES = 1024 * 1024;

/** Every event type of the catalog, in the contract's order. */
export const EVENT_TYPES = [
  "mashup_played",
  "mashup_play_progress",
  "mashup_play_ended",
  "mashup_liked",
  "mashup_shared",
  "mashup_exported",
  "mashup_created",
  "ai_reaction",
  "comment_posted",
  "user_followed",
  "subscription_upgraded",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

// Ids are checked for the 8-4-4-4-12 hex shape, not for an RFC 4122 version nibble: ids minted by
// md5()::uuid in SQL (the seed's) are valid uuids to Postgres and must be valid here too.
// Lower-cased as they are read: the database stores uuids in lower case whatever was sent, and the
// live counters (Redis keys such as mashup:{id}:likes) and properties must name the same mashup as
// the rollups do; an upper-case id made a second, unread set of live keys.
const uuid = () =>
  z.guid({ error: (issue) => (issue.code === "invalid_format" ? "Invalid UUID" : undefined) })
    .transform((id) => id.toLowerCase());
/**
 * Whether PostgreSQL can store a string: text and jsonb refuse NUL (\u0000), and a lone UTF-16
 * surrogate (\ud800 without its pair) has no UTF-8 form. JSON.parse accepts both, so without this
 * rule one such string made the database refuse the whole batch.
 */
export function isStorableText(s: string): boolean {
  return !s.includes("\u0000") && !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
export const UNSTORABLE_TEXT =
  "must not contain NUL (\\u0000) or an unpaired UTF-16 surrogate (\\ud800-\\udfff): the database cannot store it";
/** Any string of an event that is stored (or decides what is stored). */
const text = () => z.string().refine(isStorableText, UNSTORABLE_TEXT);

/**
 * Whether PostgreSQL can read an ISO-8601 time: it has no year 0000 (1 BC) and allows UTC offsets up
 * to ±15:59. zod's ISO check allows both, and an event time outside the kept window is stored as
 * the client sent it (properties.client_timestamp), so one such time made the database refuse the
 * whole batch (a 500 that no retry could get past).
 */
export function isStorableTime(s: string): boolean {
  if (s.startsWith("0000")) return false;
  const offset = /[+-](\d{2}):?\d{2}$|[+-](\d{2})$/.exec(s);
  if (offset && Number(offset[1] ?? offset[2]) > 15) return false;
  // The instant, not only the digits: 0001-01-01T00:00:00+00:01 is in 1 BC in UTC (an outside
  // audit: the database answered it as a BC time that JavaScript cannot read, a 500 after commit).
  const ms = Date.parse(s);
  return Number.isFinite(ms) && ms >= FIRST_STORABLE_MS && ms <= LAST_STORABLE_MS;
}
/** The first and last instants of the years 0001 to 9999, UTC: what an ISO time with a four-digit
 * year can name and both JavaScript and PostgreSQL read back the same. */
export const FIRST_STORABLE_MS = Date.parse("0001-01-01T00:00:00.000Z");
export const LAST_STORABLE_MS = Date.parse("9999-12-31T23:59:59.999Z");
export const UNSTORABLE_TIME =
  "Invalid ISO datetime: the time, in UTC, must fall in the years 0001 to 9999 and the UTC offset be within ±15:59";
/** An ISO-8601 time with a zone (Z or an offset) that the database can store. */
export const isoTime = () =>
  z.iso.datetime({ offset: true, abort: true }).refine(isStorableTime, UNSTORABLE_TIME);

/** A short label chosen by the client: platform, format, reaction, tier. */
const label = () => text().trim().min(1).max(64);
/** A JSON number that is finite. JSON.parse reads 1e400 as Infinity, which zod refused as "expected
 * number, received number"; this names the problem. */
const finite = () =>
  z.number({
    error: (issue) =>
      issue.code === "invalid_type" && typeof issue.input === "number" ? "Invalid number: must be finite" : undefined,
  });
/** Seconds within one play; a day is far beyond any mashup. */
const seconds = () => finite().min(0).max(86_400);
const clientId = () => text().trim().min(1).max(200);

/** The fields every event carries besides its properties. */
const envelope = {
  id: uuid().optional(),
  timestamp: isoTime().optional(),
  session_id: clientId().optional(),
  anonymous_id: clientId().optional(),
};

/** Position and duration of a play, where the position may not pass the end. */
const playPosition = z
  .object({
    mashup_id: uuid(),
    play_id: uuid(),
    position_seconds: seconds(),
    duration_seconds: seconds().gt(0),
  })
  .refine((p) => p.position_seconds <= p.duration_seconds, {
    path: ["position_seconds"],
    error: "Too big: expected position_seconds to be <= duration_seconds",
  });

function eventOf<T extends EventType, P extends z.ZodType<Record<string, unknown>>>(type: T, properties: P) {
  return z.object({ type: z.literal(type), ...envelope, properties });
}

export const mashupPlayed = eventOf(
  "mashup_played",
  z.object({
    mashup_id: uuid(),
    // A label ("twitter") or a referrer URL/host; the function normalises it (empty -> direct).
    source: text().max(2048).nullish(),
    auto_play: z.boolean(),
    // Optional: ties progress/end heartbeats to the play; the plan's own client sends none.
    play_id: uuid().optional(),
  }),
);
export const mashupPlayProgress = eventOf("mashup_play_progress", playPosition);
export const mashupPlayEnded = eventOf("mashup_play_ended", playPosition);
export const mashupLiked = eventOf("mashup_liked", z.object({ mashup_id: uuid() }));
export const mashupShared = eventOf("mashup_shared", z.object({ mashup_id: uuid(), platform: label() }));
export const mashupExported = eventOf(
  "mashup_exported",
  z.object({ mashup_id: uuid(), platform: label(), format: label() }),
);
export const mashupCreated = eventOf(
  "mashup_created",
  z.object({
    mashup_id: uuid(),
    track_count: finite().int().min(1).max(1000),
    duration: finite().gt(0).max(86_400),
    used_ai: z.boolean(),
  }),
);
export const aiReaction = eventOf("ai_reaction", z.object({ mashup_id: uuid(), reaction: label() }));
export const commentPosted = eventOf(
  "comment_posted",
  z.object({ mashup_id: uuid(), has_media: z.boolean() }),
);
export const userFollowed = eventOf("user_followed", z.object({ creator_id: uuid() }));
export const subscriptionUpgraded = eventOf(
  "subscription_upgraded",
  z.object({ from: label(), to: label() }),
);

/** One schema per event type. */
export const eventSchemas = {
  mashup_played: mashupPlayed,
  mashup_play_progress: mashupPlayProgress,
  mashup_play_ended: mashupPlayEnded,
  mashup_liked: mashupLiked,
  mashup_shared: mashupShared,
  mashup_exported: mashupExported,
  mashup_created: mashupCreated,
  ai_reaction: aiReaction,
  comment_posted: commentPosted,
  user_followed: userFollowed,
  subscription_upgraded: subscriptionUpgraded,
} as const satisfies Record<EventType, z.ZodType>;

/** Any catalog event. */
export const trackEvent = z.discriminatedUnion("type", [
  mashupPlayed,
  mashupPlayProgress,
  mashupPlayEnded,
  mashupLiked,
  mashupShared,
  mashupExported,
  mashupCreated,
  aiReaction,
  commentPosted,
  userFollowed,
  subscriptionUpgraded,
]);
export type TrackEvent = z.infer<typeof trackEvent>;
/** The event of one type, e.g. EventOf<"mashup_played">. */
export type EventOf<T extends EventType> = Extract<TrackEvent, { type: T }>;
/** The properties of one type, e.g. PropertiesOf<"mashup_liked"> = { mashup_id: string }. */
export type PropertiesOf<T extends EventType> = EventOf<T>["properties"];
/** What a client sends: the event without the fields zod fills in. */
export type TrackEventInput = z.input<typeof trackEvent>;

/** The native request body: one event, or a batch (with the client's clock at send time). */
export type TrackRequestBody = TrackEventInput | {
  events: TrackEventInput[];
  /** The client's clock when it sent the batch; corrects a skewed device clock (as PostHog does). */
  sent_at?: string;
};

/** The response of the track function. */
export type TrackResponse = {
  /** Events stored now. */
  accepted: number;
  /** Events whose id was already stored (in an earlier request or earlier in this one). */
  duplicates: number;
  /** Events not stored, and why: `events[<index>].<field>: <rule>`. */
  rejected: { index: number; error: string }[];
  /** Events received but stored nowhere that counts: PostHog's own `$` events and bot traffic. */
  ignored: number;
};

const typeSchema = z.enum(EVENT_TYPES);

/** Validates one event against the schema of its type; errors name the field and the rule. */
export function parseEvent(
  input: unknown,
  index: number,
): { ok: true; event: TrackEvent } | { ok: false; error: string } {
  const at = `events[${index}]`;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: `${at}: Invalid input: expected object` };
  }
  const type = typeSchema.safeParse((input as { type?: unknown }).type);
  if (!type.success) return { ok: false, error: `${at}.type: ${type.error.issues[0].message}` };
  const parsed = eventSchemas[type.data].safeParse(input);
  if (parsed.success) return { ok: true, event: parsed.data as TrackEvent };
  const error = parsed.error.issues
    .map((issue) => `${[at, ...issue.path.map(String)].join(".")}: ${issue.message}`)
    .join("; ");
  return { ok: false, error };
}
