// Which database errors the functions answer as 503 (retry) rather than 500 (a bug). The end-to-end
// cases (the database stopped, a backend killed during a commit) are in
// tests/integration/track_store_failure.test.ts; this covers the codes those cannot produce on demand.
import { assertEquals } from "../_support/assert.ts";
import { databaseUnavailable } from "../../functions/_shared/unavailable.ts";

Deno.test("unavailable: connection losses, servers that cannot take a query, PostgREST's connection errors; not query errors", () => {
  const unavailable = [
    { code: "CONNECTION_CLOSED" }, { code: "CONNECTION_DESTROYED" }, { code: "CONNECT_TIMEOUT" }, { code: "ECONNREFUSED" },
    { code: "08006" }, { code: "08001" }, { code: "57P01" }, { code: "57P02" }, { code: "57P03" }, { code: "53300" },
    { code: "PGRST000", message: "Database connection error." }, { code: "PGRST001" }, { code: "PGRST002" }, { code: "PGRST003" },
    { code: "", message: "" }, // PostgREST 12 on a connection that died under the query
  ];
  const failures = [
    { code: "23505", message: "duplicate key" }, { code: "22023", message: "p_start is required" }, { code: "57014" },
    { code: "P0001" }, { code: "42501" }, { code: "PGRST100" }, { code: "PGRST0000" }, { code: "XX000" },
    { code: "", message: "something" }, { message: "no code" }, null, "CONNECTION_CLOSED", new Error("plain"),
  ];
  assertEquals(unavailable.filter((e) => !databaseUnavailable(e)), []);
  assertEquals(failures.filter((e) => databaseUnavailable(e)), []);
  // The gateway's own answers when PostgREST is not there.
  assertEquals([502, 503, 504, 500, 400].map((s) => databaseUnavailable({ code: "x", message: "y" }, s)), [true, true, true, false, false]);
});
