// Assertions for the Deno tests, built on node:assert so no registry other than npm is needed.
import nodeAssert from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg as string);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string) {
  nodeAssert.deepStrictEqual(actual, expected, msg as string);
}
// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;
/** `fn` must reject with an instance of `cls` (a subclass counts) whose message includes `includes`. */
export async function assertRejects(fn: () => Promise<unknown>, cls: ErrorClass, includes?: string): Promise<Error> {
  let caught: unknown;
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    caught = e;
  }
  nodeAssert.ok(threw, "expected a rejection");
  nodeAssert.ok(
    caught instanceof cls,
    `expected a ${cls.name}, got ${caught instanceof Error ? caught.constructor.name : typeof caught}: ${String(caught)}`,
  );
  const err = caught as Error;
  if (includes) nodeAssert.ok(err.message.includes(includes), `error "${err.message}" should include "${includes}"`);
  return err;
}
