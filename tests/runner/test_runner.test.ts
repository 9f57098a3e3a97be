// The runner's Deno step (scripts/test-deno.sh, what `npm test` uses) on small suites written here:
// everything short of "every test ran and passed" must fail the run and count as a failure.
import { assert, assertEquals } from "../_support/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runSuite(source: string): Promise<{ code: number; last: string; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "runner-test-" });
  try {
    await Deno.writeTextFile(`${dir}/suite.test.ts`, source);
    const res = await new Deno.Command("bash", {
      args: [`${ROOT}scripts/test-deno.sh`, `${dir}/suite.test.ts`],
      env: { DENO_TEST_OUTPUT: `${dir}/deno.txt` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(res.stdout);
    const lines = out.trim().split("\n");
    return { code: res.code, last: lines[lines.length - 1], out };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const two = `Deno.test("a", () => {});\nDeno.test("b", () => {});\n`;

Deno.test("runner: a suite where every test passes is green with the exact count", async () => {
  const r = await runSuite(two);
  assertEquals([r.code, r.last], [0, "2 passed, 0 failed"], r.out);
});

Deno.test("runner: a stray only: true fails the run (deno exits 1, summary says ok)", async () => {
  const r = await runSuite(`Deno.test({ name: "a", only: true, fn: () => {} });\n${two}`);
  assert(r.code !== 0, "the runner must exit non-zero");
  assert(/filtered out/.test(r.out), r.out);
  assertEquals(r.last, "1 passed, 1 failed", r.out);
});

Deno.test("runner: ignored tests fail the run, one failure each", async () => {
  const r = await runSuite(`Deno.test({ name: "x", ignore: true, fn: () => {} });\nDeno.test.ignore("y", () => {});\n${two}`);
  assert(r.code !== 0, "the runner must exit non-zero");
  assertEquals(r.last, "2 passed, 2 failed", r.out);
});

Deno.test("runner: a failing test is counted and fails the run", async () => {
  const r = await runSuite(`${two}Deno.test("c", () => { throw new Error("boom"); });\n`);
  assert(r.code !== 0);
  assertEquals(r.last, "2 passed, 1 failed", r.out);
});

Deno.test("runner: deno dying before any test (a syntax error) fails the run", async () => {
  const r = await runSuite(`Deno.test("a", () => {\n`);
  assert(r.code !== 0);
  assert(/[1-9][0-9]* failed$/.test(r.last), r.out);
});

Deno.test("runner: an error thrown outside any test (an uncaught rejection) fails the run", async () => {
  const r = await runSuite(`${two}setTimeout(() => { throw new Error("late"); }, 0);\n`);
  assert(r.code !== 0, r.out);
  assert(!/ 0 failed$/.test(r.last), r.out);
});

// An afterAll hook awaiting a promise nothing will settle (a pool's end() waiting for a socket that
// never reports 'close') makes deno exit 1 after a green summary; the runner counts it, and a hook
// through tests/_support/teardown.ts ends on its timer instead.
Deno.test("runner: an afterAll hook left pending fails the run; the same hook through teardown() ends", async () => {
  const pending = await runSuite(`${two}Deno.test.afterAll(() => new Promise<void>(() => {}));\n`);
  assert(pending.code !== 0, pending.out);
  assert(/event loop has already resolved/.test(pending.out), pending.out);
  assertEquals(pending.last, "2 passed, 1 failed", pending.out);

  const teardown = new URL("../_support/teardown.ts", import.meta.url).href;
  const bounded = await runSuite(
    `import { teardown } from "${teardown}";\n${two}` +
      `Deno.test.afterAll(teardown("a pool", () => new Promise<void>(() => {}), 200));\n`,
  );
  assertEquals([bounded.code, bounded.last], [0, "2 passed, 0 failed"], bounded.out);
});
