// Assertions for the Deno tests, built on node:assert so no registry other than npm is needed.
import nodeAssert from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg as string);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string) {
  nodeAssert.deepStrictEqual(actual, expected, msg as string);
}
export async function assertRejects(fn: () => Promise<unknown>, _cls: unknown, includes?: string) {
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    if (includes) nodeAssert.ok(String((e as Error).message).includes(includes), `error "${(e as Error).message}" should include "${includes}"`);
  }
  nodeAssert.ok(threw, "expected a rejection");
}
