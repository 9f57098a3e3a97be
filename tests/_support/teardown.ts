// A file's afterAll hook that always settles.
//
// `deno test` runs a file's afterAll hooks after its tests have been counted. A hook that awaits a
// promise nothing in the event loop will settle (postgres.js's `end()` waits for a socket's 'close'
// event, playwright's `close()` for its pipe) ends the whole run with exit 1 and "Promise resolution
// is still pending but the event loop has already resolved", after a green summary and without
// naming the file (seen once in CI at 7bdc5cf; reproduced with a hook awaiting `new Promise(() => {})`).
// A ref'd timer raced with the hook keeps the event loop alive, so the hook ends either way; a hook
// that ran out of time is reported on stderr (a leak to look at, not a failed test).
export function teardown(what: string, fn: () => Promise<unknown>, ms = 15_000): () => Promise<void> {
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outOfTime = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    try {
      const result = await Promise.race([fn().then(() => "done" as const), outOfTime]);
      if (result === "timeout") console.error(`teardown: ${what} did not finish within ${ms} ms; left to the process exit`);
    } finally {
      clearTimeout(timer);
    }
  };
}
