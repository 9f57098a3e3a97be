// A typed client for the track function: the plan's calls (trackMashupPlay, trackMashupCreate,
// trackExport, trackAILike, trackFollow, trackComment, trackUpgrade) plus the like / share /
// play-progress / play-end calls the contract's catalog adds. Events are queued and posted in
// batches of `batchSize` (at most 500) to `${url}/functions/v1/track`.
//
// Each event gets its id and timestamp when it is tracked, so a retried batch is the same batch:
// the backend stores each id once. `sent_at` goes with every batch so a skewed device clock is
// corrected on arrival. Runs in browsers, Deno and Node 18+ (fetch and crypto.randomUUID).
//
// Nothing blocks the queue for good. An event the catalog's schema refuses (a bad id, a string
// with NUL) is never queued; an event the backend refuses is dropped; a request the backend refuses
// as a whole (a 4xx other than 401/408/429) is dropped, after splitting on 413. Each is reported
// through onError as a RefusedEventsError. Only network errors, 5xx, 401, 408 and 429 keep events
// queued for the next flush, with the same ids.
//
//   const analytics = createTrackClient({ url: SUPABASE_URL, anonymousId, sessionId,
//                                         accessToken: async () => session?.access_token ?? null });
//   const playId = analytics.trackMashupPlay(mashupId, { source: document.referrer, autoPlay: false });
//   analytics.trackPlayProgress(mashupId, playId, 30, 185);
//   await analytics.flush();
import {
  MAX_BATCH_EVENTS,
  parseEvent,
  type PropertiesOf,
  type TrackEventInput,
  type TrackResponse,
} from "./events.ts";

export type TrackClientOptions = {
  /** The project URL (SUPABASE_URL); events go to `${url}/functions/v1/track`. */
  url: string;
  /** The publishable anon key, sent as `apikey` as Supabase clients do (the function needs none). */
  apikey?: string;
  /** The signed-in user's access token, or null when nobody is signed in. */
  accessToken?: () => Promise<string | null> | string | null;
  /** A stable id for this browser or device: required while nobody is signed in (or sessionId). */
  anonymousId?: string;
  /** The current session. */
  sessionId?: string;
  /** Events per request (default 50, at most 500). The queue flushes itself when it is this long. */
  batchSize?: number;
  /** Flush the queue this often in ms (default 0: only when full or on flush()). */
  flushIntervalMs?: number;
  /** Tries per batch on network errors and 5xx (default 3); the same ids are sent each time. */
  maxAttempts?: number;
  /**
   * Waits per batch on 429 (rate limited, default 10): each waits the answer's Retry-After (else
   * 1, 2, 4 ... s, at most 60 s) and sends the same batch again. A 413 splits the batch in two.
   */
  maxRateLimitWaits?: number;
  fetch?: typeof fetch;
  /** Called when a background flush fails (flush() rejects instead), and for every event dropped
   * as refused (a RefusedEventsError, from flush() too). */
  onError?: (error: Error) => void;
};

export class TrackError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`track: HTTP ${status} ${JSON.stringify(body)}`);
  }
}

/** Events dropped for good: refused by the schema before sending, or by the backend. */
export class RefusedEventsError extends Error {
  constructor(readonly refused: { event: TrackEventInput; error: string }[]) {
    super(`track: ${refused.length} event(s) refused and dropped: ${refused.map((r) => r.error).join("; ")}`);
  }
}

// Statuses after which the same request may succeed: the token refreshed, the server back.
const RETRYABLE = (status: number) => status >= 500 || status === 401 || status === 408 || status === 429;

export type TrackClient = ReturnType<typeof createTrackClient>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After (seconds or an HTTP date) in ms, else exponential backoff from 1 s; at most 60 s. */
function retryAfterMs(header: string | null, waitsSoFar: number): number {
  const seconds = Number(header);
  let ms = Number.isFinite(seconds) && header !== null && header.trim() !== ""
    ? seconds * 1000
    : header
    ? Date.parse(header) - Date.now()
    : NaN;
  if (!(ms >= 0)) ms = 1000 * 2 ** waitsSoFar;
  return Math.min(ms, 60_000);
}

export function createTrackClient(options: TrackClientOptions) {
  const endpoint = `${options.url.replace(/\/+$/, "")}/functions/v1/track`;
  const batchSize = Math.min(Math.max(1, options.batchSize ?? 50), MAX_BATCH_EVENTS);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const maxRateLimitWaits = Math.max(0, options.maxRateLimitWaits ?? 10);
  const doFetch = options.fetch ?? fetch;
  const queue: TrackEventInput[] = [];
  let sending: Promise<TrackResponse[]> = Promise.resolve([]);
  const timer = options.flushIntervalMs
    ? setInterval(() => void flush().catch(report), options.flushIntervalMs)
    : undefined;

  function report(error: Error) {
    (options.onError ?? ((e: Error) => console.warn(e.message)))(error);
  }

  function enqueue<T extends TrackEventInput["type"]>(type: T, properties: PropertiesOf<T>): string {
    const id = crypto.randomUUID();
    const event = {
      type,
      id,
      timestamp: new Date().toISOString(),
      ...(options.sessionId ? { session_id: options.sessionId } : {}),
      ...(options.anonymousId ? { anonymous_id: options.anonymousId } : {}),
      properties,
    } as TrackEventInput;
    // The backend's own schema: what it would refuse is reported now and never queued.
    const checked = parseEvent(event, 0);
    if (!checked.ok) {
      report(new RefusedEventsError([{ event, error: checked.error.replaceAll("events[0].", "") }]));
      return id;
    }
    queue.push(event);
    if (queue.length >= batchSize) void flush().catch(report);
    return id;
  }

  /** Sends one batch; the answer, or null when the backend refused the request as a whole (reported). */
  async function send(events: TrackEventInput[]): Promise<TrackResponse | null> {
    try {
      return await post(events);
    } catch (e) {
      if (!(e instanceof TrackError) || RETRYABLE(e.status)) throw e;
      if (e.status === 413 && events.length > 1) {
        const half = Math.ceil(events.length / 2);
        // A half refused as a whole (null, already reported) counts as nothing sent.
        const none: TrackResponse = { accepted: 0, duplicates: 0, ignored: 0, rejected: [] };
        const a = (await send(events.slice(0, half))) ?? none;
        const b = (await send(events.slice(half))) ?? none;
        return {
          accepted: a.accepted + b.accepted,
          duplicates: a.duplicates + b.duplicates,
          ignored: a.ignored + b.ignored,
          rejected: [...a.rejected, ...b.rejected.map((r) => ({ ...r, index: r.index + half }))],
        };
      }
      const body = e.body as { error?: unknown } | null;
      const why = `HTTP ${e.status}: ${typeof body?.error === "string" ? body.error : JSON.stringify(body)}`;
      report(new RefusedEventsError(events.map((event) => ({ event, error: why }))));
      return null;
    }
  }

  async function post(events: TrackEventInput[]): Promise<TrackResponse> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (options.apikey) headers.apikey = options.apikey;
    const token = await options.accessToken?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    let lastError: Error = new Error("track: not sent");
    let waits = 0;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let res: Response;
      try {
        // sent_at is the clock of this very send, so a batch that waited is still corrected right.
        const body = JSON.stringify({ events, sent_at: new Date().toISOString() });
        res = await doFetch(endpoint, { method: "POST", headers, body });
      } catch (e) {
        lastError = e as Error;
        continue;
      }
      const payload = await res.json().catch(() => null);
      // 200 with per-event outcome, or 400 when every event was refused: either way, final.
      if (res.ok || (res.status === 400 && payload && "rejected" in payload)) return payload as TrackResponse;
      lastError = new TrackError(res.status, payload);
      if (res.status === 429 && waits < maxRateLimitWaits) {
        // Rate limited: nothing was stored; wait as told and send the same events again.
        // The header, else the body's retry_after (a browser may not see the header cross-origin).
        const told = res.headers.get("retry-after") ??
          (payload && typeof payload.retry_after === "number" ? String(payload.retry_after) : null);
        await sleep(retryAfterMs(told, waits++));
        attempt--;
        continue;
      }
      if (!RETRYABLE(res.status)) break;
    }
    throw lastError;
  }

  /** Sends everything queued, in batches; resolves with the backend's answer for each batch. */
  function flush(): Promise<TrackResponse[]> {
    sending = sending.catch(() => []).then(async () => {
      const answers: TrackResponse[] = [];
      while (queue.length > 0) {
        const batch = queue.slice(0, batchSize);
        const answer = await send(batch);
        // Sent or refused for good: either way these events leave the queue.
        queue.splice(0, batch.length);
        if (!answer) continue;
        answers.push(answer);
        if (answer.rejected.length > 0) {
          report(new RefusedEventsError(answer.rejected.map((r) => ({ event: batch[r.index], error: r.error }))));
        }
      }
      return answers;
    });
    return sending;
  }

  return {
    /** The plan's trackMashupPlay; returns the play id that progress and end events refer to. */
    trackMashupPlay(
      mashupId: string,
      metadata: { source?: string | null; autoPlay: boolean; playId?: string },
    ) {
      const playId = metadata.playId ?? crypto.randomUUID();
      enqueue("mashup_played", {
        mashup_id: mashupId,
        source: metadata.source ?? null,
        auto_play: metadata.autoPlay,
        play_id: playId,
      });
      return playId;
    },
    trackPlayProgress(mashupId: string, playId: string, positionSeconds: number, durationSeconds: number) {
      return enqueue("mashup_play_progress", {
        mashup_id: mashupId,
        play_id: playId,
        position_seconds: positionSeconds,
        duration_seconds: durationSeconds,
      });
    },
    trackPlayEnd(mashupId: string, playId: string, positionSeconds: number, durationSeconds: number) {
      return enqueue("mashup_play_ended", {
        mashup_id: mashupId,
        play_id: playId,
        position_seconds: positionSeconds,
        duration_seconds: durationSeconds,
      });
    },
    trackLike: (mashupId: string) => enqueue("mashup_liked", { mashup_id: mashupId }),
    trackShare: (mashupId: string, platform: string) =>
      enqueue("mashup_shared", { mashup_id: mashupId, platform }),
    /** The plan's trackExport, with the mashup the contract adds. */
    trackExport: (mashupId: string, platform: string, format: string) =>
      enqueue("mashup_exported", { mashup_id: mashupId, platform, format }),
    /** The plan's trackMashupCreate, with the new mashup's id the contract adds. */
    trackMashupCreate: (
      mashupId: string,
      metadata: { trackCount: number; duration: number; usedAI: boolean },
    ) =>
      enqueue("mashup_created", {
        mashup_id: mashupId,
        track_count: metadata.trackCount,
        duration: metadata.duration,
        used_ai: metadata.usedAI,
      }),
    trackAILike: (mashupId: string, reaction: string) =>
      enqueue("ai_reaction", { mashup_id: mashupId, reaction }),
    trackFollow: (creatorId: string) => enqueue("user_followed", { creator_id: creatorId }),
    trackComment: (mashupId: string, hasMedia: boolean) =>
      enqueue("comment_posted", { mashup_id: mashupId, has_media: hasMedia }),
    trackUpgrade: (fromTier: string, toTier: string) =>
      enqueue("subscription_upgraded", { from: fromTier, to: toTier }),
    flush,
    /** Events tracked and not yet sent. */
    get pending() {
      return queue.length;
    },
    /** Flushes and stops the interval timer. */
    async close(): Promise<TrackResponse[]> {
      if (timer !== undefined) clearInterval(timer);
      return await flush();
    },
  };
}
