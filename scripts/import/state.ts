// Where an import stands, kept beside the export (`<file>.import-state.json`) after every batch the
// server acknowledged, so an interrupted import resumes at the first record not yet sent. Event
// uuids make any overlap harmless: a record sent twice is a duplicate, stored once.
import { existsSync } from "node:fs";

export type ImportState = {
  file: { size: number };
  /** Records (from the start of the file) the server has answered for. */
  records: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  ignored: number;
  /** UTC days (YYYY-MM-DD) of the events stored or already there: the rollups to recompute. */
  days: string[];
  /** Days whose rollups have been recomputed since the last record was sent. */
  recomputed: string[];
  done: boolean;
};

export const statePath = (file: string) => `${file}.import-state.json`;
export const rejectedPath = (file: string) => `${file}.import-rejected.jsonl`;

export function freshState(size: number): ImportState {
  return {
    file: { size },
    records: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    ignored: 0,
    days: [],
    recomputed: [],
    done: false,
  };
}

/** The saved state of this file, or null if there is none (or it belongs to a file of another size). */
export function loadState(file: string, size: number): ImportState | null {
  const path = statePath(file);
  if (!existsSync(path)) return null;
  const state = JSON.parse(Deno.readTextFileSync(path)) as ImportState;
  if (state.file.size !== size) {
    throw new Error(
      `${path} belongs to a file of ${state.file.size} bytes (this one has ${size}): ` +
        "pass --restart to start over",
    );
  }
  return state;
}

/** Written whole then renamed, so a kill mid-write leaves the previous state, never half of one. */
export function saveState(file: string, state: ImportState): void {
  const path = statePath(file);
  Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify(state, null, 2) + "\n");
  Deno.renameSync(`${path}.tmp`, path);
}
