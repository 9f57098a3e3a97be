// The three dashboard responses of the plan (camelCase keys, nesting and units exactly as the
// plan writes them: seconds and whole percent), as zod schemas with the TypeScript types inferred
// from them. Used by the analytics function to shape its output and by tests to check it.
import { z } from "zod";

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const count = z.number().int().nonnegative();
const percent = z.number().int().min(0).max(100);
/** Any PostgreSQL uuid: zod's uuid() accepts RFC 9562 versions only, and the seed's md5-derived ids
 *  (e.g. md5('mashup-1')::uuid) have none, so the ids of a uuid column are checked as 8-4-4-4-12 hex. */
const uuid = z.guid();

export const period = z.object({ start: isoDate, end: isoDate });

export const dashboardResponse = z.object({
  period,
  summary: z.object({
    totalPlays: count,
    totalLikes: count,
    totalShares: count,
    followers: count,
    following: count,
  }),
  trends: z.object({
    playsOverTime: z.array(z.object({ date: isoDate, plays: count })),
    likesOverTime: z.array(z.object({ date: isoDate, likes: count })),
  }),
  topContent: z.array(z.object({
    mashupId: uuid,
    title: z.string(),
    plays: count,
    likes: count,
    /** % change in plays against the previous period of equal length; null when it had none. */
    growth: z.number().int().nullable(),
  })),
  sources: z.array(z.object({ source: z.string(), count, percentage: percent })),
  demographics: z.object({
    countries: z.array(z.object({ country: z.string(), percentage: percent })),
    devices: z.array(z.object({ device: z.string(), percentage: percent })),
  }),
});
export type DashboardResponse = z.infer<typeof dashboardResponse>;

export const mashupAnalyticsResponse = z.object({
  mashup: z.object({ id: uuid, title: z.string(), createdAt: z.string() }),
  lifetime: z.object({ plays: count, uniquePlays: count, likes: count, shares: count, comments: count }),
  retention: z.object({
    /** seconds */
    avgWatchTime: z.number().nonnegative(),
    /** % of plays that reached 95% of the duration */
    completionRate: percent,
    /** cumulative % of plays that had stopped by `time` seconds */
    dropOffPoints: z.array(z.object({ time: count, percentage: percent })),
  }),
  daily: z.array(z.object({ date: isoDate, plays: count, likes: count })),
  /** hours of day in the requested tz, busiest first */
  peakTimes: z.array(z.object({ hour: z.number().int().min(0).max(23), plays: count })),
});
export type MashupAnalyticsResponse = z.infer<typeof mashupAnalyticsResponse>;

// compare=previous: the response plus `comparison`, the previous period of equal length just before.
/** Whole percent change from the previous figure; null when the previous figure is 0. */
const change = z.number().int().nullable();

export const dashboardComparison = z.object({
  period,
  /** followers/following: the count at the start of the period (no period of their own) */
  summary: z.object({
    totalPlays: count,
    totalLikes: count,
    totalShares: count,
    followers: count,
    following: count,
  }),
  change: z.object({
    totalPlays: change,
    totalLikes: change,
    totalShares: change,
    followers: change,
    following: change,
  }),
  trends: dashboardResponse.shape.trends,
});
export const comparedDashboardResponse = dashboardResponse.extend({ comparison: dashboardComparison });
export type ComparedDashboardResponse = z.infer<typeof comparedDashboardResponse>;

export const mashupComparison = z.object({
  period,
  summary: z.object({ plays: count, likes: count, shares: count }),
  change: z.object({ plays: change, likes: change, shares: change }),
  daily: mashupAnalyticsResponse.shape.daily,
});
export const comparedMashupAnalyticsResponse = mashupAnalyticsResponse.extend({
  comparison: mashupComparison,
});
export type ComparedMashupAnalyticsResponse = z.infer<typeof comparedMashupAnalyticsResponse>;

export const realtimeResponse = z.object({
  activeUsers: count,
  playingNow: z.array(z.object({ mashupId: uuid, listeners: count })),
  lastHour: z.object({ plays: count, likes: count }),
  /** Present (true) only when Redis could not answer and the numbers were counted from Postgres. */
  stale: z.literal(true).optional(),
});
export type RealtimeResponse = z.infer<typeof realtimeResponse>;

/** The error body every analytics endpoint answers with. */
export const errorResponse = z.object({ error: z.string(), field: z.string().optional() });
export type ErrorResponse = z.infer<typeof errorResponse>;
