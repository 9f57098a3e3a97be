// PostHog's capture payloads mapped into the native event shape, so the plan's client
// (`posthog.capture(name, props)`, posthog-js or posthog-node) works against this backend.
//   event        -> type            (PostHog's own `$` events are accepted and ignored)
//   uuid         -> id              (the idempotency key: posthog clients retry with the same uuid)
//   timestamp    -> timestamp       (corrected with the batch's sent_at, as PostHog does)
//   distinct_id  -> anonymous_id    (never a user id: only a verified JWT names the user)
//   properties.$session_id -> session_id
//   properties   -> properties      without `$` keys; the plan's camelCase names (autoPlay,
//                                   trackCount, usedAI, ...) are read as the catalog's snake_case
//   properties.$raw_user_agent      the end user's browser, when a server forwards its events
import type { Received } from "./ingest.ts";
import { checkedEvents, type RawBatch, RequestError, sentAtOf } from "./request.ts";

// The plan's client sends some properties in camelCase; the catalog names them in snake_case.
const CATALOG_NAME: Record<string, string> = {
  mashupId: "mashup_id",
  playId: "play_id",
  autoPlay: "auto_play",
  positionSeconds: "position_seconds",
  durationSeconds: "duration_seconds",
  trackCount: "track_count",
  usedAI: "used_ai",
  usedAi: "used_ai",
  hasMedia: "has_media",
  creatorId: "creator_id",
};

/** Errors name the fields as a PostHog client sent them. */
const POSTHOG_FIELD: Record<string, string> = {
  id: "uuid",
  anonymous_id: "distinct_id",
  session_id: "properties.$session_id",
};

/** The batch a PostHog body holds: `{ batch: [...] }`, an array, or one event. */
export function postHogBatch(body: unknown): RawBatch {
  if (Array.isArray(body)) return { events: checkedEvents(body, "batch"), sentAt: null };
  if (typeof body !== "object" || body === null) {
    throw new RequestError(
      400,
      "body: expected a PostHog event, an array of events or { batch: [...] }",
      "body",
    );
  }
  const { batch, sent_at } = body as { batch?: unknown; sent_at?: unknown };
  if (batch !== undefined) return { events: checkedEvents(batch, "batch"), sentAt: sentAtOf(sent_at) };
  return { events: [body], sentAt: sentAtOf(sent_at) };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);

/** Maps one PostHog event (a `$` event is ignored). Anything malformed is passed on as is, for validation to name. */
export function fromPostHogEvent(event: unknown): Received {
  if (!isObject(event)) return { ignored: false, input: event, userAgent: null };
  const name = event.event;
  if (typeof name === "string" && name.startsWith("$")) return { ignored: true };
  const props = isObject(event.properties) ? event.properties : {};

  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("$") || key === "distinct_id" || key === "token") continue;
    const catalogName = CATALOG_NAME[key] ?? key;
    if (!(catalogName in properties) || catalogName === key) properties[catalogName] = value;
  }
  // posthog-js knows where a visitor came from even when the app does not say.
  if (
    name === "mashup_played" && properties.source === undefined && typeof props.$referring_domain === "string"
  ) {
    properties.source = props.$referring_domain;
  }

  return {
    ignored: false,
    input: {
      type: name,
      id: event.uuid ?? undefined,
      timestamp: event.timestamp ?? props.timestamp ?? undefined,
      session_id: text(props.$session_id),
      anonymous_id: text(event.distinct_id ?? props.distinct_id ?? event.$distinct_id),
      properties,
    },
    userAgent: typeof props.$raw_user_agent === "string" ? props.$raw_user_agent : null,
    fieldNames: POSTHOG_FIELD,
  };
}
