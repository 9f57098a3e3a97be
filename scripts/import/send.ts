// Sending to the backend as the service role: batches to the track function's PostHog path
// (/track/batch), and the rollup recomputation of a day through the plan's aggregation RPCs.
// Network errors, 429 and 5xx are retried with exponential backoff (Retry-After when given);
// any other status stops the import, since sending the next batch would fail the same way.
import type { PostHogEvent } from "./records.ts";

export type Backend = { url: string; serviceKey: string };
export type TrackAnswer = {
  accepted: number;
  duplicates: number;
  ignored: number;
  rejected: { index: number; error: string }[];
};

const RETRIES = 8;

async function withRetry(what: string, attempt: () => Promise<Response>): Promise<Response> {
  for (let i = 0;; i++) {
    let res: Response | null = null;
    let reason: string;
    try {
      res = await attempt();
      if (res.status !== 429 && res.status < 500) return res;
      reason = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } catch (e) {
      reason = (e as Error).message;
    }
    if (i >= RETRIES) throw new Error(`${what} failed after ${RETRIES + 1} tries: ${reason}`);
    const retryAfter = Number(res?.headers.get("retry-after"));
    const waitMs = Number.isFinite(retryAfter) && retryAfter > 0
      ? retryAfter * 1000
      : Math.min(30_000, 250 * 2 ** i);
    await new Promise((r) => setTimeout(r, waitMs));
  }
}

function headers(b: Backend): Record<string, string> {
  return {
    Authorization: `Bearer ${b.serviceKey}`,
    apikey: b.serviceKey,
    "Content-Type": "application/json",
  };
}

/** One batch through /track/batch; no sent_at, so each timestamp is taken as written. */
export async function sendBatch(b: Backend, events: PostHogEvent[]): Promise<TrackAnswer> {
  const res = await withRetry(
    "track",
    () =>
      fetch(`${b.url}/functions/v1/track/batch`, {
        method: "POST",
        headers: headers(b),
        body: JSON.stringify({ batch: events }),
      }),
  );
  const body = await res.json();
  // 400 with per-event rejections is an answer (every event of the batch was refused), not a failure.
  if (res.ok || (res.status === 400 && Array.isArray(body.rejected))) return body as TrackAnswer;
  throw new Error(`track answered ${res.status}: ${JSON.stringify(body)}`);
}

/** Recomputes a UTC day's rollups: the plan's aggregate_mashup_stats then aggregate_user_stats. */
export async function recomputeDay(b: Backend, day: string): Promise<void> {
  for (const fn of ["aggregate_mashup_stats", "aggregate_user_stats"]) {
    const res = await withRetry(
      fn,
      () =>
        fetch(`${b.url}/rest/v1/rpc/${fn}`, {
          method: "POST",
          headers: headers(b),
          body: JSON.stringify({ target_date: day }),
        }),
    );
    if (!res.ok) throw new Error(`${fn}(${day}) answered ${res.status}: ${await res.text()}`);
    await res.body?.cancel();
  }
}
