// Reads `supabase db advisors` on stdin (Supabase's Security and Performance Advisor, the splinter
// lints) and fails on any finding at WARN or ERROR, and on an unindexed foreign key, except
// function_search_path_mutable: pgTAP 77 (tests/sql/77_functions_search_path.test.sql) holds the
// exact list of functions allowed without a search_path and checks why each is.
import { readFileSync } from "node:fs";

// The CLI prints a JSON array (or {"results": [...]} with --output-format json), and nothing on
// stdout ("No issues found" on stderr) when there is nothing at the requested level.
const text = readFileSync(0, "utf8").trim();
let findings;
try {
  const parsed = text === "" || /^no issues found/i.test(text) ? [] : JSON.parse(text);
  findings = Array.isArray(parsed) ? parsed : parsed.results;
  if (!Array.isArray(findings)) throw new Error("no list of findings");
} catch (error) {
  console.error(`unexpected advisor output (${error.message}): ${text.slice(0, 500)}`);
  process.exit(1);
}
const governed = new Set(["function_search_path_mutable"]);
// INFO findings that are never by design here: a foreign key without an index (a cascade or a check
// that scans the table). The other INFO lints are (RLS on internal tables without policies, the
// fold's scratch and queue without a primary key, indexes a fresh database has not used yet).
const alwaysFailing = new Set(["unindexed_foreign_keys"]);
const serious = findings.filter((f) => f.level !== "INFO" || alwaysFailing.has(f.name));
const failing = serious.filter((f) => !governed.has(f.name));
function count(list) {
  const byLint = new Map();
  for (const f of list) byLint.set(`${f.name} (${f.level})`, (byLint.get(`${f.name} (${f.level})`) ?? 0) + 1);
  return [...byLint].map(([lint, n]) => `${lint} x${n}`).join(", ") || "none";
}
for (const f of failing) console.error(`${f.level} ${f.name}: ${f.detail}`);
console.log(`advisors: ${findings.length} findings; at WARN or above, or failing INFO: ${count(serious)}; failing: ${failing.length}`);
process.exit(failing.length === 0 ? 0 : 1);
