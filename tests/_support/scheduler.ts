// The stack's scheduler (scripts/realtime-scheduler.ts) runs the realtime sync at every UTC minute
// whose number is a multiple of 5, and at minute 7 with the reconciliation. Every run trims the
// realtime windows on the wall clock: members older than an hour go. A test that writes members at a
// controlled clock in the past and reads them back would lose them to a run in between, so it
// starts where no run falls inside it.

const MINUTE = 60_000;
/** How long after its start a run may still be trimming (a run reads Postgres first). */
const RUN_MAY_LAST_MS = 30_000;

const scheduled = (minuteStart: number) => {
  const m = new Date(minuteStart).getUTCMinutes();
  return m % 5 === 0 || m === 7;
};

/** The start of the scheduler's first run at or after `t` (a minute boundary), epoch ms. */
export function nextSchedulerRun(t: number): number {
  let m = Math.ceil(t / MINUTE) * MINUTE;
  while (!scheduled(m)) m += MINUTE;
  return m;
}

/** The start of the scheduler's last run before `t`, epoch ms. */
export function lastSchedulerRun(t: number): number {
  let m = Math.floor(t / MINUTE) * MINUTE;
  while (!scheduled(m)) m -= MINUTE;
  return m;
}

/**
 * Waits until the next `needsMs` have no scheduler run in them and the last run has had
 * RUN_MAY_LAST_MS to finish. At most about a minute, when a run is just due.
 */
export async function clearOfTheScheduler(needsMs: number): Promise<void> {
  for (;;) {
    const now = Date.now();
    const busyUntil = lastSchedulerRun(now) + RUN_MAY_LAST_MS;
    if (now < busyUntil) {
      await new Promise((r) => setTimeout(r, busyUntil - now + 100));
      continue;
    }
    if (nextSchedulerRun(now + 1) - now > needsMs) return;
    await new Promise((r) => setTimeout(r, nextSchedulerRun(now + 1) + RUN_MAY_LAST_MS - now + 100));
  }
}
