// The test helpers themselves can fail for the right reason, and housekeeping never counts as a test.
import nodeAssert from "node:assert/strict";
import { assertRejects } from "../_support/assert.ts";

Deno.test("assertRejects fails on the wrong error class, on no rejection, and on a missing text", async () => {
  await assertRejects(() => Promise.reject(new RangeError("out of range")), RangeError, "range");
  await assertRejects(() => Promise.reject(new RangeError("subclass")), Error); // a subclass counts
  await nodeAssert.rejects(() => assertRejects(() => Promise.reject(new TypeError("x")), RangeError), /expected a RangeError/);
  await nodeAssert.rejects(() => assertRejects(() => Promise.resolve(1), Error), /expected a rejection/);
  await nodeAssert.rejects(() => assertRejects(() => Promise.reject(new Error("abc")), Error, "xyz"), /should include/);
  await nodeAssert.rejects(() => assertRejects(() => Promise.reject("a string"), Error), /expected a Error/);
});

Deno.test("no Deno.test is housekeeping (closing pools or browsers, cleaning up): that belongs in afterAll", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".test.ts")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/Deno\.test\(\s*(?:\{\s*name:\s*)?["'`]([^"'`]*)["'`]/g)) {
          if (/^(cleanup|clean up|teardown|close|page: close)/i.test(m[1])) offenders.push(`${path}: ${m[1]}`);
        }
      }
    }
  };
  await walk(root.replace(/\/$/, ""));
  nodeAssert.deepStrictEqual(offenders, []);
});

Deno.test("every afterAll hook goes through teardown() (a hook left pending fails the whole run after its summary)", async () => {
  const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const hooks: string[] = [];
  const unbounded: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".test.ts") && !path.includes("/runner/")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/Deno\.test\.afterAll\(\s*([A-Za-z]+)/g)) {
          hooks.push(path);
          if (m[1] !== "teardown" && m[1] !== "endSql") unbounded.push(`${path}: afterAll(${m[1]}`);
        }
      }
    }
  };
  await walk(root);
  nodeAssert.ok(hooks.length >= 5, `expected the suites' afterAll hooks, found ${hooks.length}`);
  nodeAssert.deepStrictEqual(unbounded, []);
});
