// The page's pure helpers: how growth, durations and dates are shown, and the period arithmetic
// (inclusive dates on screen, half-open start..end for the API).
import { assertEquals } from "../_support/assert.ts";
import { countryName, fmtDuration, fmtGrowth, fmtInt, sourceName } from "../../web/src/dom.ts";
import { addDays, daysBetween, isDate, todayIn, utcOffsetLabel } from "../../web/src/dates.ts";

Deno.test("web: growth reads ▲/▼ with the sign, 0% flat, and null (no plays before) as new", () => {
  assertEquals(fmtGrowth(15), { text: "▲ +15%", tone: "up" });
  assertEquals(fmtGrowth(-8), { text: "▼ −8%", tone: "down" });
  assertEquals(fmtGrowth(0), { text: "0%", tone: "flat" });
  assertEquals(fmtGrowth(null), { text: "new", tone: "new" });
  assertEquals(fmtGrowth(1250), { text: "▲ +1,250%", tone: "up" });
});

Deno.test("web: numbers, durations, countries and sources as people read them", () => {
  assertEquals(fmtInt(15420), "15,420");
  assertEquals([fmtDuration(0), fmtDuration(59.6), fmtDuration(121), fmtDuration(3725)], ["0:00", "1:00", "2:01", "1:02:05"]);
  assertEquals([countryName("US"), countryName("unknown"), countryName("")], ["United States", "Unknown", "Unknown"]);
  assertEquals([sourceName("tiktok"), sourceName("direct"), sourceName("newsletter")], ["TikTok", "Direct", "Newsletter"]);
});

Deno.test("web: period arithmetic across month, year and DST edges", () => {
  assertEquals(addDays("2026-01-31", 1), "2026-02-01");
  assertEquals(addDays("2026-12-31", 1), "2027-01-01");
  assertEquals(addDays("2026-03-29", 1), "2026-03-30"); // a calendar day, whatever the zone's DST
  assertEquals(daysBetween("2026-01-01", "2026-02-01"), 31);
  assertEquals([isDate("2026-02-29"), isDate("2028-02-29"), isDate("2026-13-01"), isDate("26-01-01")], [false, true, false, false]);
  const now = new Date("2026-11-25T23:30:00Z");
  assertEquals([todayIn("UTC", now), todayIn("Asia/Tokyo", now), todayIn("America/New_York", now)], ["2026-11-25", "2026-11-26", "2026-11-25"]);
  assertEquals(utcOffsetLabel("UTC", now), "UTC");
  assertEquals(utcOffsetLabel("Asia/Tokyo", now), "UTC+09:00");
  assertEquals(utcOffsetLabel("America/New_York", now), "UTC-05:00");
});
