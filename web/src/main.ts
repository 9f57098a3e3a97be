// The creator dashboard page: sign in (email+password through supabase-js, or a pasted token),
// pick a period and a time zone, and read the analytics API's three responses as cards, charts
// and tables. Served by the stack's gateway at `/`, under a strict CSP.
import {
  ApiError,
  type ComparedDashboardResponse,
  config,
  currentIdentity,
  type DashboardResponse,
  downloadCsv,
  fetchDashboard,
  fetchMashup,
  fetchMyMashups,
  fetchRealtime,
  type Identity,
  initApi,
  type MashupAnalyticsResponse,
  type MashupRow,
  type Period,
  type RealtimeResponse,
  signInWithPassword,
  signOut,
  usePastedToken,
} from "./api.ts";
import { COLORS, draw, lineConfig, PALETTE } from "./charts.ts";
import {
  allZones,
  addDays,
  browserTimeZone,
  COMMON_ZONES,
  daysBetween,
  isDate,
  isTimeZone,
  todayIn,
  utcOffsetLabel,
} from "./dates.ts";
import {
  byId,
  capitalize,
  clear,
  countryName,
  fmtCompact,
  fmtDay,
  fmtDayLong,
  fmtDuration,
  fmtGrowth,
  fmtHour,
  fmtInt,
  fmtPct,
  h,
  sourceName,
} from "./dom.ts";
import { chartBox, fillRows, Panel } from "./panel.ts";

const REALTIME_EVERY_MS = 10_000;
const TOP_LIMIT = 10;
const MAX_DAYS = 366;

// --- state --------------------------------------------------------------------------------------
type View = { from: string; to: string; tz: string; mashupId: string | null };
const view: View = readHash();
let identity: Identity | null = null;
let myMashups: MashupRow[] = [];
let lastDashboard: DashboardResponse | null = null;
let realtimeTimer: ReturnType<typeof setInterval> | undefined;
let dashboardAbort: AbortController | null = null;
let mashupAbort: AbortController | null = null;

function readHash(): View {
  const p = new URLSearchParams(location.hash.replace(/^#/, ""));
  const tzParam = p.get("tz") ?? "";
  const tz = tzParam && isTimeZone(tzParam) ? tzParam : browserTimeZone();
  const today = todayIn(tz);
  const to = isDate(p.get("to") ?? "") ? p.get("to")! : today;
  const from = isDate(p.get("from") ?? "") ? p.get("from")! : addDays(to, -29);
  return { from, to, tz, mashupId: p.get("mashup") };
}

function writeHash(): void {
  const p = new URLSearchParams({ from: view.from, to: view.to, tz: view.tz });
  if (view.mashupId) p.set("mashup", view.mashupId);
  history.replaceState(null, "", `#${p}`);
}

/** The API's half-open period for the inclusive dates on screen. */
const period = (): Period => ({ start: view.from, end: addDays(view.to, 1), tz: view.tz });
const periodKey = (p = period()) => `${p.start}|${p.end}|${p.tz}`;

function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0 || e.message === `HTTP ${e.status}`) return e.message;
    return `${e.message} (HTTP ${e.status}${e.field ? `, ${e.field}` : ""})`;
  }
  return (e as Error)?.message ?? String(e);
}

function isAbort(e: unknown): boolean {
  return (e as Error)?.name === "AbortError";
}

/** A 401 means the session is gone: back to the sign-in form with a reason. */
function handleAuthLoss(e: unknown): boolean {
  if (e instanceof ApiError && e.status === 401) {
    void doSignOut("Your session is no longer valid: please sign in again.");
    return true;
  }
  return false;
}

// --- boot ---------------------------------------------------------------------------------------
const app = byId("app");

async function boot(): Promise<void> {
  try {
    await initApi();
  } catch (e) {
    clear(app);
    app.append(h("div", { class: "fatal", role: "alert", "data-testid": "fatal" }, h("h1", {}, "The dashboard cannot start"), h("p", {}, describeError(e))));
    return;
  }
  byId("sign-out").addEventListener("click", () => void doSignOut());
  identity = await currentIdentity();
  if (identity) showDashboard();
  else showSignIn();
}

// --- sign in ------------------------------------------------------------------------------------
function showSignIn(message?: string): void {
  stopRealtime();
  byId("account").hidden = true;
  clear(app);
  document.body.dataset.view = "signin";

  const email = h("input", { type: "email", id: "email", name: "email", autocomplete: "username", required: true, placeholder: "you@example.com", "data-testid": "email" });
  const password = h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password", required: true, "data-testid": "password" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "sign-in" }, "Sign in");
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "signin-error", hidden: !message }, message ?? "");
  // The demo accounts come from the runtime config, which only the local demo stack writes them to.
  const demoAccounts = config().demo;
  let demoHint: HTMLElement | null = null;
  if (demoAccounts && demoAccounts.users.length > 0) {
    const [first, ...others] = demoAccounts.users;
    const demo = h("button", { type: "button", class: "linkish", "data-testid": "fill-demo" }, "Fill in the demo creator");
    demo.addEventListener("click", () => {
      email.value = first;
      password.value = demoAccounts.password;
      submit.focus();
    });
    demoHint = h(
      "p",
      { class: "hint", "data-testid": "demo-accounts" },
      "Local demo: ",
      h("code", {}, first),
      " / ",
      h("code", {}, demoAccounts.password),
      ...(others.length > 0 ? [" (also ", others.map((u) => u.split("@")[0]).join(", "), ")"] : []),
      ". ",
      demo,
    );
  }

  const form = h(
    "form",
    { class: "stack", "data-testid": "signin-form" },
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      await signInWithPassword(email.value.trim(), password.value);
      identity = await currentIdentity();
      showDashboard();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 400 ? "Wrong email or password." : describeError(e);
      error.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });

  const tokenInput = h("textarea", { id: "token", rows: 3, placeholder: "eyJhbGciOiJIUzI1NiIs…", spellcheck: "false", "data-testid": "token" });
  const tokenSubmit = h("button", { type: "submit", class: "secondary", "data-testid": "use-token" }, "Use this token");
  const tokenForm = h(
    "form",
    { class: "stack" },
    h("label", { for: "token" }, "Access token (JWT)"),
    tokenInput,
    tokenSubmit,
  );
  tokenForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    tokenSubmit.disabled = true;
    try {
      usePastedToken(tokenInput.value);
      // The API decides whether the token is good: anything but 401 means it was accepted.
      try {
        await fetchDashboard({ start: addDays(todayIn("UTC"), -1), end: addDays(todayIn("UTC"), 1), tz: "UTC" }, 1);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) throw new ApiError(401, `The API refused that token: ${e.message}`);
      }
      identity = await currentIdentity();
      showDashboard();
    } catch (e) {
      usePastedToken(null);
      error.textContent = describeError(e);
      error.hidden = false;
    } finally {
      tokenSubmit.disabled = false;
    }
  });

  app.append(
    h(
      "div",
      { class: "signin" },
      h(
        "div",
        { class: "signin-card" },
        h("h1", {}, "Creator dashboard"),
        h("p", { class: "lead" }, "Plays, likes, audiences and live listeners for your mashups."),
        error,
        form,
        ...(demoHint ? [demoHint] : []),
        h("div", { class: "or" }, h("span", {}, "or")),
        tokenForm,
        h("p", { class: "hint" }, "Any Supabase access token for this project works", ...(demoHint ? [", e.g. ", h("code", {}, "DEMO_CREATOR_TOKEN"), " from .env.local."] : ["."])),
      ),
    ),
  );
  (message ? password : email).focus();
}

async function doSignOut(message?: string): Promise<void> {
  await signOut();
  identity = null;
  view.mashupId = null; // the next person has other mashups
  myMashups = [];
  lastDashboard = null;
  dashboardAbort?.abort();
  mashupAbort?.abort();
  showSignIn(message);
}

// --- the dashboard ------------------------------------------------------------------------------
type Ui = ReturnType<typeof buildDashboard>;
let ui: Ui | null = null;

function showDashboard(): void {
  document.body.dataset.view = "dashboard";
  byId("account").hidden = false;
  byId("who").textContent = identity
    ? `${identity.email || identity.userId}${identity.via === "token" ? " (token)" : ""}`
    : "";
  clear(app);
  ui = buildDashboard();
  app.append(ui.root);
  writeHash();
  void loadMashupList();
  void loadDashboard();
  void loadMashup();
  startRealtime();
}

function buildDashboard() {
  // Toolbar: period and time zone.
  const from = h("input", { type: "date", id: "from", value: view.from, required: true, "data-testid": "from" });
  const to = h("input", { type: "date", id: "to", value: view.to, required: true, "data-testid": "to" });
  const tz = h("select", { id: "tz", "data-testid": "tz" });
  const zones = [...new Set([view.tz, browserTimeZone(), ...COMMON_ZONES])].filter(isTimeZone);
  const common = h("optgroup", { label: "Common" });
  for (const z of zones) common.append(h("option", { value: z }, `${z.replace(/_/g, " ")} (${utcOffsetLabel(z)})`));
  const rest = h("optgroup", { label: "All time zones" });
  for (const z of allZones()) if (!zones.includes(z)) rest.append(h("option", { value: z }, z.replace(/_/g, " ")));
  tz.append(common, rest);
  tz.value = view.tz;
  const presets = h("div", { class: "presets", role: "group", "aria-label": "Quick periods" });
  for (const days of [7, 30, 90]) {
    const b = h("button", { type: "button", class: "chip", "data-days": days }, `${days} days`);
    b.addEventListener("click", () => {
      const today = todayIn(view.tz);
      view.to = today;
      view.from = addDays(today, -(days - 1));
      from.value = view.from;
      to.value = view.to;
      onPeriodChange();
    });
    presets.append(b);
  }
  const periodNote = h("p", { class: "period-note", "data-testid": "period-note" });
  const periodError = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "period-error" });
  const refresh = h("button", { type: "button", class: "ghost", title: "Reload every panel", "data-testid": "refresh" }, "↻ Refresh");
  refresh.addEventListener("click", () => {
    void loadDashboard();
    void loadMashup();
    startRealtime(); // now, and the next automatic refresh 10 s from now
  });
  const toolbar = h(
    "section",
    { class: "toolbar", "aria-label": "Period and time zone" },
    h("div", { class: "field" }, h("label", { for: "from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "to" }, "To"), to),
    presets,
    h("div", { class: "field grow" }, h("label", { for: "tz" }, "Time zone"), tz),
    refresh,
  );
  const onDates = () => {
    view.from = from.value;
    view.to = to.value;
    onPeriodChange();
  };
  from.addEventListener("change", onDates);
  to.addEventListener("change", onDates);
  tz.addEventListener("change", () => {
    view.tz = tz.value;
    onPeriodChange();
  });

  // Summary cards.
  const summary = new Panel("summary", "Summary", { className: "span-12 summary" });
  const cards = h("div", { class: "cards" });
  summary.body.append(cards);

  // Trends.
  const plays = new Panel("plays", "Plays over time", { className: "span-6", subtitle: "Plays per day in the selected time zone" });
  const playsBox = chartBox("plays", ["Date", "Plays"]);
  plays.body.append(playsBox.box);
  const likes = new Panel("likes", "Likes over time", { className: "span-6", subtitle: "Likes per day in the selected time zone" });
  const likesBox = chartBox("likes", ["Date", "Likes"]);
  likes.body.append(likesBox.box);

  // Top content and realtime.
  const top = new Panel("top", "Top content", { className: "span-8", subtitle: "Growth: plays against the previous period of the same length" });
  const topBody = h("tbody");
  top.body.append(
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "top-table", "data-testid": "top-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Mashup"), h("th", { class: "num" }, "Plays"), h("th", { class: "num" }, "Likes"), h("th", { class: "num" }, "Growth"))),
        topBody,
      ),
    ),
  );
  const realtime = new Panel("realtime", "Right now", { className: "span-4 realtime", subtitle: "Live from Redis, refreshed every 10 seconds" });
  const live = h("span", { class: "live-dot", "aria-hidden": "true" });
  realtime.actions.append(live);

  // Audience.
  const sources = new Panel("sources", "Traffic sources", { className: "span-4", subtitle: "Where plays started" });
  const sourcesBox = chartBox("sources", ["Source", "Plays", "Share"]);
  sources.body.append(sourcesBox.box);
  const countries = new Panel("countries", "Countries", { className: "span-4", subtitle: "Share of plays" });
  const countriesBox = chartBox("countries", ["Country", "Share"]);
  countries.body.append(countriesBox.box);
  const devices = new Panel("devices", "Devices", { className: "span-4", subtitle: "Share of plays" });
  const devicesBox = chartBox("devices", ["Device", "Share"]);
  devices.body.append(devicesBox.box);

  // One mashup.
  const mashupSelect = h("select", { id: "mashup", "data-testid": "mashup-select" }, h("option", { value: "" }, "Loading your mashups…"));
  mashupSelect.addEventListener("change", () => selectMashup(mashupSelect.value || null, false));
  const mashupHead = h(
    "div",
    { class: "mashup-head" },
    h("div", {}, h("h2", { class: "section-title" }, "Mashup deep dive"), h("p", { class: "sub" }, "Retention, daily plays and the hours your listeners tune in")),
    h("div", { class: "field" }, h("label", { for: "mashup" }, "Mashup"), mashupSelect),
  );
  const mSummary = new Panel("mashup-summary", "Lifetime", { className: "span-12 summary" });
  const mCards = h("div", { class: "cards compact" });
  mSummary.body.append(mCards);
  const retention = new Panel("retention", "Retention", { className: "span-4", subtitle: "Share of plays still listening at each point" });
  const retentionBox = chartBox("retention", ["Time", "Still listening", "Stopped by then"]);
  retention.body.append(retentionBox.box);
  const daily = new Panel("daily", "Daily plays and likes", { className: "span-4", subtitle: "This mashup, in the selected period" });
  const dailyBox = chartBox("daily", ["Date", "Plays", "Likes"]);
  daily.body.append(dailyBox.box);
  const peak = new Panel("peak", "Peak hours", { className: "span-4", subtitle: "Plays by hour of day in the selected time zone" });
  const peakBox = chartBox("peak", ["Hour", "Plays"]);
  peak.body.append(peakBox.box);

  // CSV downloads of what each panel shows (the API's format=csv, same auth as the JSON).
  csvButton(plays, "dashboard", "daily");
  csvButton(likes, "dashboard", "daily");
  csvButton(top, "dashboard", "topContent");
  csvButton(sources, "dashboard", "sources");
  csvButton(countries, "dashboard", "countries");
  csvButton(devices, "dashboard", "devices");
  csvButton(retention, "mashup", "retention");
  csvButton(daily, "mashup", "daily");
  csvButton(peak, "mashup", "peakTimes");

  const root = h(
    "div",
    { class: "dashboard" },
    toolbar,
    h("div", { class: "period-line" }, periodNote, periodError),
    h("div", { class: "grid" }, summary.root, plays.root, likes.root, top.root, realtime.root, sources.root, countries.root, devices.root),
    h("section", { class: "mashup-section", "aria-label": "One mashup" }, mashupHead, h("div", { class: "grid" }, mSummary.root, retention.root, daily.root, peak.root)),
  );
  return {
    root, from, to, tz, periodNote, periodError, mashupSelect,
    summary, cards, plays, playsBox, likes, likesBox, top, topBody, realtime,
    sources, sourcesBox, countries, countriesBox, devices, devicesBox,
    mSummary, mCards, retention, retentionBox, daily, dailyBox, peak, peakBox,
  };
}

function onPeriodChange(): void {
  writeHash();
  void loadDashboard();
  void loadMashup();
}

/** Checks the period on screen; shows why it cannot be asked for. */
function periodProblem(): string | null {
  if (!isDate(view.from) || !isDate(view.to)) return "Pick both dates.";
  const days = daysBetween(view.from, view.to) + 1;
  if (days < 1) return "“From” must be on or before “To”.";
  if (days > MAX_DAYS) return `A period may be at most ${MAX_DAYS} days (this one is ${days}).`;
  return null;
}

/** A panel's "CSV" button: downloads the panel's table of the current response for the period on screen. */
function csvButton(panel: Panel, kind: "dashboard" | "mashup", table: string): void {
  const button = h("button", { type: "button", class: "ghost small", "data-testid": `csv-${panel.name}`, title: "Download as CSV" }, "CSV");
  button.addEventListener("click", async () => {
    const path = kind === "dashboard" ? "dashboard" : view.mashupId ? `mashups/${encodeURIComponent(view.mashupId)}` : null;
    if (!path || periodProblem()) return;
    button.disabled = true;
    try {
      await downloadCsv(path, table, period());
      button.title = "Download as CSV";
    } catch (e) {
      if (handleAuthLoss(e)) return;
      button.title = `The download failed: ${describeError(e)}`;
    } finally {
      button.disabled = false;
    }
  });
  panel.actions.append(button);
}

/** How a figure moved against the previous one: whole percent, as the API's `comparison.change` says. */
type CardChange = { percent: number | null; current: number; previous: number; against: string };

function changeLine(testId: string, c: CardChange): HTMLElement {
  const direction = c.current > c.previous ? "up" : c.current < c.previous ? "down" : "flat";
  const arrow = direction === "up" ? "▲" : direction === "down" ? "▼" : "=";
  // No percentage from nothing: a figure that was 0 before is "new".
  const amount = c.percent === null ? (c.current > 0 ? "new" : "0") : `${Math.abs(c.percent)}%`;
  return h(
    "div",
    {
      class: `card-change ${direction}`,
      "data-testid": `${testId}-change`,
      "data-change": c.percent === null ? "" : String(c.percent),
      "data-previous": String(c.previous),
      title: `${fmtInt(c.previous)} ${c.against}`,
    },
    `${arrow} ${amount} `,
    h("span", { class: "card-change-against" }, c.against),
  );
}

function card(
  testId: string,
  label: string,
  value: number | string,
  opts: { raw?: number; hint?: string; icon?: string; change?: CardChange } = {},
) {
  const raw = typeof value === "number" ? value : opts.raw;
  return h(
    "div",
    { class: "card", "data-testid": testId, "data-value": raw !== undefined ? String(raw) : undefined },
    h("div", { class: "card-label" }, opts.icon ? h("span", { class: "card-icon", "aria-hidden": "true" }, opts.icon) : null, label),
    h("div", { class: "card-value" }, typeof value === "number" ? fmtInt(value) : value),
    opts.change ? changeLine(testId, opts.change) : null,
    opts.hint ? h("div", { class: "card-hint" }, opts.hint) : null,
  );
}

// --- dashboard response ---------------------------------------------------------------------------
async function loadDashboard(): Promise<void> {
  if (!ui) return;
  const u = ui;
  const problem = periodProblem();
  u.periodError.hidden = !problem;
  u.periodError.textContent = problem ?? "";
  if (problem) return;
  const p = period();
  const days = daysBetween(view.from, view.to) + 1;
  u.periodNote.textContent = `${days} day${days === 1 ? "" : "s"}: ${fmtDayLong(view.from)} – ${fmtDayLong(view.to)}, days in ${view.tz} (${utcOffsetLabel(view.tz)})`;
  const panels = [u.summary, u.plays, u.likes, u.top, u.sources, u.countries, u.devices];
  for (const panel of panels) panel.loading();
  dashboardAbort?.abort();
  const abort = (dashboardAbort = new AbortController());
  try {
    const d = await fetchDashboard(p, TOP_LIMIT, abort.signal);
    if (abort.signal.aborted) return;
    lastDashboard = d;
    renderDashboard(d, periodKey(p));
    if (!view.mashupId) {
      const first = d.topContent[0]?.mashupId ?? myMashups[0]?.id ?? null;
      if (first) selectMashup(first, false);
    }
    refreshMashupOptions();
  } catch (e) {
    if (isAbort(e) || abort.signal.aborted) return;
    if (handleAuthLoss(e)) return;
    const msg = `The dashboard could not be loaded: ${describeError(e)}`;
    for (const panel of panels) panel.error(msg, () => void loadDashboard(), periodKey(p));
    if (!view.mashupId && myMashups[0]) selectMashup(myMashups[0].id, false);
  }
}

function renderDashboard(d: ComparedDashboardResponse, key: string): void {
  const u = ui!;
  // Cards, each with its change: totals against the previous period, follows since the period began.
  clear(u.cards);
  const s = d.summary;
  const c = d.comparison;
  const against = {
    period: "vs previous period",
    start: `since ${fmtDay(d.period.start)}`,
  };
  const change = (k: keyof typeof s, a: string): CardChange => ({
    percent: c.change[k], current: s[k], previous: c.summary[k], against: a,
  });
  u.cards.append(
    card("card-totalPlays", "Plays", s.totalPlays, { icon: "▶", change: change("totalPlays", against.period) }),
    card("card-totalLikes", "Likes", s.totalLikes, { icon: "♥", change: change("totalLikes", against.period) }),
    card("card-totalShares", "Shares", s.totalShares, { icon: "↗", change: change("totalShares", against.period) }),
    card("card-followers", "Followers", s.followers, { icon: "★", hint: "all time", change: change("followers", against.start) }),
    card("card-following", "Following", s.following, { icon: "☆", hint: "all time", change: change("following", against.start) }),
  );
  u.summary.ready(key);

  // Trends.
  const labels = d.trends.playsOverTime.map((x) => fmtDay(x.date));
  const titles = d.trends.playsOverTime.map((x) => fmtDayLong(x.date));
  drawSeries(u.plays, u.playsBox, d.trends.playsOverTime.map((x) => ({ date: x.date, v: x.plays })), "Plays", COLORS.plays, COLORS.playsFill, key, labels, titles, "No plays in this period yet.");
  drawSeries(u.likes, u.likesBox, d.trends.likesOverTime.map((x) => ({ date: x.date, v: x.likes })), "Likes", COLORS.likes, COLORS.likesFill, key, d.trends.likesOverTime.map((x) => fmtDay(x.date)), d.trends.likesOverTime.map((x) => fmtDayLong(x.date)), "No likes in this period yet.");

  // Top content.
  clear(u.topBody);
  d.topContent.forEach((t, i) => {
    const g = fmtGrowth(t.growth);
    const open = h("button", { type: "button", class: "linkish", title: "Open this mashup's analytics" }, t.title);
    open.addEventListener("click", () => {
      selectMashup(t.mashupId, true);
    });
    u.topBody.append(
      h(
        "tr",
        { "data-mashup-id": t.mashupId, "data-growth": t.growth === null ? "null" : String(t.growth), class: t.mashupId === view.mashupId ? "selected" : undefined },
        h("td", { class: "rank" }, String(i + 1)),
        h("td", { class: "title" }, open),
        h("td", { class: "num", "data-value": String(t.plays) }, fmtInt(t.plays)),
        h("td", { class: "num", "data-value": String(t.likes) }, fmtInt(t.likes)),
        h("td", { class: "num" }, h("span", { class: `growth ${g.tone}`, title: t.growth === null ? "No plays in the previous period" : "Change in plays against the previous period" }, g.text)),
      ),
    );
  });
  if (d.topContent.length) u.top.ready(key);
  else u.top.empty("None of your mashups was played in this period.", key);

  // Sources.
  if (d.sources.length) {
    draw(u.sourcesBox.canvas, {
      type: "bar",
      data: {
        labels: d.sources.map((x) => sourceName(x.source)),
        datasets: [{ label: "Plays", data: d.sources.map((x) => x.count), backgroundColor: d.sources.map((_, i) => PALETTE[i % PALETTE.length]), borderRadius: 6, maxBarThickness: 44 }],
      },
      options: {
        scales: { x: { grid: { display: false } }, y: { beginAtZero: true, grid: { color: COLORS.grid }, border: { display: false }, ticks: { maxTicksLimit: 5, callback: (v) => fmtCompact(Number(v)) } } },
        plugins: { tooltip: { callbacks: { label: (c) => ` ${fmtInt(Number(c.raw))} plays (${d.sources[c.dataIndex].percentage}%)` } } },
      },
    });
    fillRows(u.sourcesBox.tbody, d.sources.map((x) => ({ attrs: { "data-key": x.source }, cells: [x.source, x.count, fmtPct(x.percentage)] })));
    u.sources.ready(key);
  } else u.sources.empty("No plays in this period, so no sources.", key);

  // Countries: a horizontal bar of shares.
  const countries = d.demographics.countries;
  if (countries.length) {
    const shown = countries.slice(0, 8);
    draw(u.countriesBox.canvas, {
      type: "bar",
      data: {
        labels: shown.map((x) => countryName(x.country)),
        datasets: [{ label: "Share of plays", data: shown.map((x) => x.percentage), backgroundColor: COLORS.accent, borderRadius: 5, maxBarThickness: 22 }],
      },
      options: {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, max: Math.min(100, Math.ceil((Math.max(...shown.map((x) => x.percentage)) + 5) / 10) * 10), grid: { color: COLORS.grid }, border: { display: false }, ticks: { callback: (v) => `${v}%`, maxTicksLimit: 5 } }, y: { grid: { display: false } } },
        plugins: { tooltip: { callbacks: { label: (c) => ` ${c.raw}% of plays` } } },
      },
    });
    const more = countries.length - shown.length;
    u.countriesBox.note.hidden = more <= 0;
    u.countriesBox.note.textContent = more > 0 ? `and ${more} more in the data table` : "";
    fillRows(u.countriesBox.tbody, countries.map((x) => ({ attrs: { "data-key": x.country }, cells: [x.country, fmtPct(x.percentage)] })));
    u.countries.ready(key);
  } else u.countries.empty("No plays in this period, so no countries.", key);

  // Devices: a doughnut.
  const devices = d.demographics.devices;
  if (devices.length) {
    draw(u.devicesBox.canvas, {
      type: "doughnut",
      data: {
        labels: devices.map((x) => `${capitalize(x.device)} ${x.percentage}%`),
        datasets: [{ data: devices.map((x) => x.percentage), backgroundColor: devices.map((_, i) => PALETTE[i % PALETTE.length]), borderWidth: 2, borderColor: "#fff" }],
      },
      options: {
        cutout: "62%",
        plugins: { legend: { display: true, position: "right", labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true, pointStyle: "circle" } }, tooltip: { callbacks: { label: (c) => ` ${c.raw}% of plays` } } },
      },
    });
    fillRows(u.devicesBox.tbody, devices.map((x) => ({ attrs: { "data-key": x.device }, cells: [x.device, fmtPct(x.percentage)] })));
    u.devices.ready(key);
  } else u.devices.empty("No plays in this period, so no devices.", key);
}

function drawSeries(
  panel: Panel,
  box: ReturnType<typeof chartBox>,
  series: { date: string; v: number }[],
  label: string,
  color: string,
  fill: string,
  key: string,
  labels: string[],
  titles: string[],
  emptyNote: string,
): void {
  draw(box.canvas, lineConfig(labels, series.map((x) => x.v), label, color, fill, titles));
  fillRows(box.tbody, series.map((x) => ({ attrs: { "data-date": x.date }, cells: [x.date, x.v] })));
  const total = series.reduce((a, x) => a + x.v, 0);
  box.note.hidden = total > 0;
  box.note.textContent = total > 0 ? "" : emptyNote;
  if (series.length) panel.ready(key);
  else panel.empty(emptyNote, key);
}

// --- mashups ------------------------------------------------------------------------------------
async function loadMashupList(): Promise<void> {
  try {
    myMashups = await fetchMyMashups();
  } catch {
    myMashups = []; // the top content list still offers mashups
  }
  refreshMashupOptions();
  // Without a top mashup to start from (none played, or the dashboard failed), open the first one.
  const dashboardSettled = ui && ui.summary.state !== "loading";
  if (!view.mashupId && myMashups.length && dashboardSettled && !lastDashboard?.topContent.length) {
    selectMashup(myMashups[0].id, false);
  }
}

function refreshMashupOptions(): void {
  if (!ui) return;
  const sel = ui.mashupSelect;
  const byId = new Map<string, string>();
  for (const m of myMashups) byId.set(m.id, m.title);
  for (const t of lastDashboard?.topContent ?? []) if (!byId.has(t.mashupId)) byId.set(t.mashupId, t.title);
  if (view.mashupId && !byId.has(view.mashupId)) byId.set(view.mashupId, `Mashup ${view.mashupId.slice(0, 8)}`);
  clear(sel);
  if (byId.size === 0) {
    sel.append(h("option", { value: "" }, "You have no mashups yet"));
    sel.disabled = true;
    return;
  }
  sel.disabled = false;
  const top = new Set((lastDashboard?.topContent ?? []).map((t) => t.mashupId));
  const topGroup = h("optgroup", { label: "Top in this period" });
  const allGroup = h("optgroup", { label: "All your mashups" });
  for (const t of lastDashboard?.topContent ?? []) topGroup.append(h("option", { value: t.mashupId }, t.title));
  for (const [id, title] of [...byId].sort((a, b) => a[1].localeCompare(b[1]))) if (!top.has(id)) allGroup.append(h("option", { value: id }, title));
  if (topGroup.children.length) sel.append(topGroup);
  if (allGroup.children.length) sel.append(allGroup);
  sel.value = view.mashupId ?? "";
}

function selectMashup(id: string | null, scroll: boolean): void {
  view.mashupId = id;
  writeHash();
  if (ui) {
    ui.mashupSelect.value = id ?? "";
    for (const tr of ui.topBody.querySelectorAll("tr")) tr.classList.toggle("selected", tr.dataset.mashupId === id);
  }
  void loadMashup();
  if (scroll) ui?.mSummary.root.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function loadMashup(): Promise<void> {
  if (!ui) return;
  const u = ui;
  const panels = [u.mSummary, u.retention, u.daily, u.peak];
  if (!view.mashupId) {
    for (const panel of panels) panel.empty("Choose a mashup above, or click one in Top content.");
    return;
  }
  if (periodProblem()) return;
  const id = view.mashupId;
  const p = period();
  for (const panel of panels) panel.loading();
  mashupAbort?.abort();
  const abort = (mashupAbort = new AbortController());
  try {
    const m = await fetchMashup(id, p, abort.signal);
    if (abort.signal.aborted) return;
    renderMashup(m, `${id}|${periodKey(p)}`);
  } catch (e) {
    if (isAbort(e) || abort.signal.aborted) return;
    if (handleAuthLoss(e)) return;
    const msg = e instanceof ApiError && e.status === 404
      ? "This mashup was not found among yours."
      : `This mashup's analytics could not be loaded: ${describeError(e)}`;
    for (const panel of panels) panel.error(msg, () => void loadMashup(), `${id}|${periodKey(p)}`);
  }
}

function renderMashup(m: MashupAnalyticsResponse, key: string): void {
  const u = ui!;
  clear(u.mCards);
  const created = m.mashup.createdAt ? fmtDayLong(m.mashup.createdAt.slice(0, 10)) : "";
  u.mCards.append(
    h("div", { class: "card title-card", "data-testid": "mashup-title" }, h("div", { class: "card-label" }, "Mashup"), h("div", { class: "card-title" }, m.mashup.title), h("div", { class: "card-hint" }, created ? `created ${created}` : "")),
    card("mcard-plays", "Plays", m.lifetime.plays, { hint: "lifetime" }),
    card("mcard-uniquePlays", "Unique listeners", m.lifetime.uniquePlays, { hint: "lifetime" }),
    card("mcard-likes", "Likes", m.lifetime.likes, { hint: "lifetime" }),
    card("mcard-shares", "Shares", m.lifetime.shares, { hint: "lifetime" }),
    card("mcard-comments", "Comments", m.lifetime.comments, { hint: "lifetime" }),
    card("mcard-avgWatchTime", "Avg. watch time", fmtDuration(m.retention.avgWatchTime), { raw: m.retention.avgWatchTime }),
    card("mcard-completionRate", "Completion", fmtPct(m.retention.completionRate), { raw: m.retention.completionRate, hint: "reached 95%" }),
  );
  u.mSummary.ready(key);

  // Retention: 100% at 0:00, then the share not yet stopped at each drop-off point.
  const points = m.retention.dropOffPoints;
  if (points.length) {
    const xs = [0, ...points.map((x) => x.time)];
    const still = [100, ...points.map((x) => 100 - x.percentage)];
    draw(u.retentionBox.canvas, {
      type: "line",
      data: {
        labels: xs.map(fmtDuration),
        datasets: [{ label: "Still listening", data: still, borderColor: COLORS.accent, backgroundColor: "rgba(8, 145, 178, 0.14)", fill: "origin", stepped: false, tension: 0.2, borderWidth: 2, pointRadius: xs.length > 30 ? 0 : 2.5 }],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: { grid: { display: false }, ticks: { maxTicksLimit: 7, maxRotation: 0 } }, y: { min: 0, max: 100, grid: { color: COLORS.grid }, border: { display: false }, ticks: { callback: (v) => `${v}%`, stepSize: 25 } } },
        plugins: { tooltip: { callbacks: { label: (c) => ` ${c.raw}% still listening (${100 - Number(c.raw)}% stopped)` } } },
      },
    });
    fillRows(u.retentionBox.tbody, points.map((x) => ({ attrs: { "data-time": String(x.time) }, cells: [fmtDuration(x.time), fmtPct(100 - x.percentage), fmtPct(x.percentage)] })));
    u.retentionBox.note.hidden = false;
    u.retentionBox.note.textContent = `Avg. watch time ${fmtDuration(m.retention.avgWatchTime)} · ${m.retention.completionRate}% of plays completed`;
    u.retention.ready(key);
  } else u.retention.empty("No finished plays yet, so no retention curve.", key);

  // Daily plays (bars) and likes (line).
  if (m.daily.length) {
    draw(u.dailyBox.canvas, {
      type: "bar",
      data: {
        labels: m.daily.map((x) => fmtDay(x.date)),
        datasets: [
          { type: "bar", label: "Plays", data: m.daily.map((x) => x.plays), backgroundColor: COLORS.plays, borderRadius: 3, maxBarThickness: 18, order: 2 },
          { type: "line", label: "Likes", data: m.daily.map((x) => x.likes), borderColor: COLORS.likes, backgroundColor: COLORS.likes, borderWidth: 2, pointRadius: 0, tension: 0.3, order: 1 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: { grid: { display: false }, ticks: { maxTicksLimit: 7, maxRotation: 0 } }, y: { beginAtZero: true, grid: { color: COLORS.grid }, border: { display: false }, ticks: { precision: 0, maxTicksLimit: 6 } } },
        plugins: { legend: { display: true, position: "top", align: "end", labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } } },
      },
    });
    fillRows(u.dailyBox.tbody, m.daily.map((x) => ({ attrs: { "data-date": x.date }, cells: [x.date, x.plays, x.likes] })));
    const total = m.daily.reduce((a, x) => a + x.plays + x.likes, 0);
    u.dailyBox.note.hidden = total > 0;
    u.dailyBox.note.textContent = total > 0 ? "" : "No plays or likes in this period.";
    u.daily.ready(key);
  } else u.daily.empty("No days in this period.", key);

  // Peak hours: all 24 hours in order, the three busiest highlighted.
  if (m.peakTimes.length) {
    const byHour = new Map(m.peakTimes.map((x) => [x.hour, x.plays]));
    const busiest = new Set(m.peakTimes.slice(0, 3).map((x) => x.hour));
    const hours = Array.from({ length: 24 }, (_, i) => i);
    draw(u.peakBox.canvas, {
      type: "bar",
      data: {
        labels: hours.map((x) => String(x).padStart(2, "0")),
        datasets: [{ label: "Plays", data: hours.map((x) => byHour.get(x) ?? 0), backgroundColor: hours.map((x) => (busiest.has(x) ? COLORS.plays : COLORS.muted)), borderRadius: 3, maxBarThickness: 16 }],
      },
      options: {
        scales: { x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } }, y: { beginAtZero: true, grid: { color: COLORS.grid }, border: { display: false }, ticks: { precision: 0, maxTicksLimit: 5 } } },
        plugins: { tooltip: { callbacks: { title: (items) => `${fmtHour(Number(items[0].label))}–${fmtHour((Number(items[0].label) + 1) % 24)}`, label: (c) => ` ${fmtInt(Number(c.raw))} plays` } } },
      },
    });
    fillRows(u.peakBox.tbody, m.peakTimes.map((x) => ({ attrs: { "data-hour": String(x.hour) }, cells: [fmtHour(x.hour), x.plays] })));
    u.peakBox.note.hidden = false;
    u.peakBox.note.textContent = `Busiest: ${m.peakTimes.slice(0, 3).map((x) => fmtHour(x.hour)).join(", ")} (${view.tz})`;
    u.peak.ready(key);
  } else u.peak.empty("No plays in this period, so no peak hours.", key);
}

// --- realtime -----------------------------------------------------------------------------------
function startRealtime(): void {
  stopRealtime();
  void loadRealtime();
  realtimeTimer = setInterval(() => void loadRealtime(), REALTIME_EVERY_MS);
}

function stopRealtime(): void {
  if (realtimeTimer !== undefined) clearInterval(realtimeTimer);
  realtimeTimer = undefined;
}

let lastRealtime: RealtimeResponse | null = null;
let lastRealtimeAt = new Date();
let realtimeInFlight = false;

// A hidden tab asks nothing; it catches up as soon as it is shown again.
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && realtimeTimer !== undefined) void loadRealtime();
});

async function loadRealtime(): Promise<void> {
  if (!ui || realtimeInFlight || document.hidden) return;
  const panel = ui.realtime;
  realtimeInFlight = true;
  try {
    const r = await fetchRealtime();
    lastRealtime = r;
    lastRealtimeAt = new Date();
    renderRealtime(r, r.stale ? "live counters unavailable, counted from the database" : null);
  } catch (e) {
    if (handleAuthLoss(e)) return;
    if (lastRealtime) renderRealtime(lastRealtime, describeError(e));
    else panel.error(`Live numbers are unavailable: ${describeError(e)}. Retrying every 10 seconds.`, () => void loadRealtime());
  } finally {
    realtimeInFlight = false;
  }
}

function renderRealtime(r: RealtimeResponse, staleReason: string | null): void {
  const u = ui!;
  const panel = u.realtime;
  clear(panel.body);
  const titles = new Map<string, string>();
  for (const m of myMashups) titles.set(m.id, m.title);
  for (const t of lastDashboard?.topContent ?? []) titles.set(t.mashupId, t.title);
  const maxListeners = Math.max(1, ...r.playingNow.map((x) => x.listeners));
  const list = h("ol", { class: "playing", "data-testid": "rt-playing" });
  for (const p of r.playingNow.slice(0, 6)) {
    const bar = h("span", { class: "bar" });
    bar.style.width = `${Math.round((p.listeners / maxListeners) * 100)}%`; // CSSOM: allowed by the CSP
    list.append(
      h(
        "li",
        { "data-mashup-id": p.mashupId },
        h("span", { class: "name" }, titles.get(p.mashupId) ?? `Mashup ${p.mashupId.slice(0, 8)}`),
        h("span", { class: "count" }, `${fmtInt(p.listeners)} listening`),
        h("span", { class: "track" }, bar),
      ),
    );
  }
  panel.body.append(
    h(
      "div",
      { class: "rt-main" },
      h("div", { class: "rt-big", "data-testid": "rt-activeUsers", "data-value": String(r.activeUsers) }, fmtInt(r.activeUsers)),
      h("div", { class: "rt-caption" }, "active listeners", h("br"), h("small", {}, "any event in the last 5 minutes")),
    ),
    h(
      "div",
      { class: "rt-row" },
      h("div", { class: "rt-stat", "data-testid": "rt-lastHour-plays", "data-value": String(r.lastHour.plays) }, h("b", {}, fmtInt(r.lastHour.plays)), h("span", {}, "plays, last hour")),
      h("div", { class: "rt-stat", "data-testid": "rt-lastHour-likes", "data-value": String(r.lastHour.likes) }, h("b", {}, fmtInt(r.lastHour.likes)), h("span", {}, "likes, last hour")),
    ),
    h("h3", { class: "rt-sub" }, "Playing now"),
    r.playingNow.length ? list : h("p", { class: "muted", "data-testid": "rt-nobody" }, "Nobody is playing your mashups this minute."),
    h(
      "p",
      { class: staleReason ? "rt-updated stale" : "rt-updated", "data-testid": "rt-updated" },
      staleReason
        ? `Could not refresh (${staleReason}); these numbers are from ${lastRealtimeAt.toLocaleTimeString("en-GB")}.`
        : `Updated ${lastRealtimeAt.toLocaleTimeString("en-GB")} · every 10 s`,
    ),
  );
  panel.ready(String(Date.now()));
}

void boot();
