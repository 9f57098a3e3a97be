// `npm run import -- <export file> [options]`: moves history out of PostHog into this backend.
// Reads a PostHog event export (JSON lines or CSV, see records.ts), sends it in batches to the
// track function's PostHog path as the service role (so it is mapped exactly as live PostHog
// traffic is, and each event keeps its own time back to the retention horizon), then recomputes
// the rollups of every UTC day it touched. Resumable (state beside the file) and idempotent (the
// event uuid is the event id: a second import of the same file stores nothing new).
//
// Options:
//   --batch-size N     events per request (default and maximum 500, the track function's limit)
//   --max-batches N    stop after N batches (import a large file in sittings; rerun to go on)
//   --restart          forget the saved state and send the file from the start
//   --no-recompute     leave the rollups to the 5-minute incremental job
//   --json             print the final state as JSON on stdout
// Backend: SUPABASE_URL and SUPABASE_SECRET_KEY (a project's sb_secret_ key) or the legacy
// SUPABASE_SERVICE_ROLE_KEY from the environment, else from .env.local.
import process from "node:process";
import { parseArgs } from "node:util";
import { existsSync, statSync } from "node:fs";
// @ts-types="npm:@types/cli-progress@3.11.6"
import cliProgress from "cli-progress";
import { MAX_BATCH_EVENTS } from "../../types/events.ts";
import { formatOf, type PostHogEvent, readExport } from "./records.ts";
import { freshState, type ImportState, loadState, rejectedPath, saveState, statePath } from "./state.ts";
import { type Backend, recomputeDay, sendBatch } from "./send.ts";

// The track function refuses bodies over 1 MiB; a batch is closed a little before that.
const MAX_BATCH_BYTES = 900 * 1024;

function backend(): Backend {
  const local: Record<string, string> = {};
  const envFile = new URL("../../.env.local", import.meta.url);
  if (existsSync(envFile)) {
    for (const line of Deno.readTextFileSync(envFile).split("\n")) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) local[m[1]] = m[2];
    }
  }
  const url = Deno.env.get("SUPABASE_URL") ?? local.SUPABASE_URL;
  const serviceKey = Deno.env.get("SUPABASE_SECRET_KEY") ?? Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ??
    local.SUPABASE_SERVICE_ROLE_KEY;
  if (!url || !serviceKey) {
    throw new Error(
      "set SUPABASE_URL and SUPABASE_SECRET_KEY or SUPABASE_SERVICE_ROLE_KEY (or run `npm start`)",
    );
  }
  return { url: url.replace(/\/+$/, ""), serviceKey };
}

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run import -- <export.jsonl|export.csv> [--batch-size N] [--max-batches N] ` +
      "[--restart] [--no-recompute] [--json]",
  );
  Deno.exit(2);
}

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "batch-size": { type: "string" },
      "max-batches": { type: "string" },
      restart: { type: "boolean" },
      "no-recompute": { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  if (positionals.length !== 1) usage("one export file is required");
  const file = positionals[0];
  if (!existsSync(file)) usage(`no such file: ${file}`);
  const batchSize = Number(values["batch-size"] ?? MAX_BATCH_EVENTS);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_EVENTS) {
    usage(`--batch-size must be an integer from 1 to ${MAX_BATCH_EVENTS}`);
  }
  const maxBatches = values["max-batches"] === undefined ? Infinity : Number(values["max-batches"]);
  if (!(maxBatches >= 1)) usage("--max-batches must be at least 1");

  const b = backend();
  const size = statSync(file).size;
  const saved = values.restart ? null : loadState(file, size);
  const state: ImportState = saved && !saved.done ? saved : freshState(size);
  if (saved?.done) {
    console.error(`${file} was imported before: sending it again (its events are duplicates now)`);
  } else if (saved) console.error(`resuming ${file} at record ${state.records}`);
  // A run from the first record starts a new list of rejections.
  if (state.records === 0 && existsSync(rejectedPath(file))) Deno.removeSync(rejectedPath(file));

  const started = performance.now();
  const stopped = await sendFile(file, b, state, batchSize, maxBatches);
  const sentMs = performance.now() - started;
  if (stopped) {
    console.error(
      `stopped after ${maxBatches} batches at record ${state.records}; run the same command to go on`,
    );
  } else if (!values["no-recompute"]) {
    await recomputeDays(file, b, state);
  }
  const recomputeMs = performance.now() - started - sentMs;
  if (!stopped) {
    state.done = true;
    saveState(file, state);
  }
  console.error(
    `${state.records} records: ${state.accepted} imported, ${state.duplicates} already there, ` +
      `${state.ignored} ignored (PostHog's own $ events, bots), ${state.rejected} rejected` +
      (state.rejected ? ` (see ${rejectedPath(file)})` : "") +
      `; ${state.days.length} days, ${state.recomputed.length} recomputed. ` +
      `Sent in ${(sentMs / 1000).toFixed(1)} s, rollups in ${(recomputeMs / 1000).toFixed(1)} s. State: ${
        statePath(file)
      }`,
  );
  if (values.json) console.log(JSON.stringify(state));
}

/** Sends the records after state.records; returns true when stopped by --max-batches. */
async function sendFile(file: string, b: Backend, state: ImportState, batchSize: number, maxBatches: number) {
  const bar = new cliProgress.SingleBar({
    format: "import  |{bar}| {percentage}% | {records} records | {accepted} new, {duplicates} dup, " +
      "{rejected} rejected, {ignored} ignored | ETA {eta_formatted}",
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  bar.start(state.file.size, 0, counts(state));
  const days = new Set(state.days);
  let batch: { index: number; event: PostHogEvent }[] = [];
  let batchBytes = 0;
  let sent = 0;
  let bytes = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const answer = await sendBatch(b, batch.map((r) => r.event));
    const refused = new Map(answer.rejected.map((r) => [r.index, r.error]));
    const rejected: string[] = [];
    batch.forEach((r, i) => {
      const error = refused.get(i);
      if (error !== undefined) {
        rejected.push(
          JSON.stringify({ record: r.index, error: error.replace(/^events\[\d+\]\./, ""), event: r.event }),
        );
      } else if (typeof r.event.event === "string" && !r.event.event.startsWith("$") && r.event.timestamp) {
        days.add(r.event.timestamp.slice(0, 10));
      }
    });
    if (rejected.length) {
      Deno.writeTextFileSync(rejectedPath(file), rejected.join("\n") + "\n", { append: true });
    }
    state.accepted += answer.accepted;
    state.duplicates += answer.duplicates;
    state.ignored += answer.ignored;
    state.rejected += answer.rejected.length;
    state.records = batch[batch.length - 1].index + 1;
    state.days = [...days].sort();
    state.recomputed = [];
    saveState(file, state);
    bar.update(bytes, counts(state));
    batch = [];
    batchBytes = 0;
    sent++;
  };

  for await (const record of readExport(file, await formatOf(file))) {
    bytes = record.bytes;
    if (record.index < state.records) continue;
    if ("error" in record) {
      // Unreadable lines are recorded as rejected and skipped; the rest of the file still goes in.
      await flush();
      Deno.writeTextFileSync(
        rejectedPath(file),
        JSON.stringify({ record: record.index, error: record.error }) + "\n",
        {
          append: true,
        },
      );
      state.rejected++;
      state.records = record.index + 1;
      saveState(file, state);
      continue;
    }
    const size = new TextEncoder().encode(JSON.stringify(record.event)).byteLength + 1;
    if (batch.length >= batchSize || (batch.length > 0 && batchBytes + size > MAX_BATCH_BYTES)) {
      await flush();
      if (sent >= maxBatches) {
        bar.stop();
        return true;
      }
    }
    batch.push({ index: record.index, event: record.event });
    batchBytes += size;
  }
  await flush();
  bar.update(state.file.size, counts(state));
  bar.stop();
  return false;
}

function counts(s: ImportState) {
  return {
    records: s.records,
    accepted: s.accepted,
    duplicates: s.duplicates,
    rejected: s.rejected,
    ignored: s.ignored,
  };
}

/** The imported days' rollups, recomputed from the raw events (days done are remembered, for a resume). */
async function recomputeDays(file: string, b: Backend, state: ImportState) {
  const todo = state.days.filter((d) => !state.recomputed.includes(d));
  if (todo.length === 0) return;
  const bar = new cliProgress.SingleBar({
    format: "rollups |{bar}| {value}/{total} days | {day}",
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  bar.start(todo.length, 0, { day: todo[0] });
  for (const [i, day] of todo.entries()) {
    await recomputeDay(b, day);
    state.recomputed.push(day);
    saveState(file, state);
    bar.update(i + 1, { day });
  }
  bar.stop();
}

try {
  await main();
} catch (e) {
  console.error(`import failed: ${(e as Error).message}\nrerun the same command to resume`);
  Deno.exit(1);
}
