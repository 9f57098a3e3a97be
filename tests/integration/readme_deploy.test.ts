// The README's deploy section, read as a new user would follow it, checked against the pinned
// Supabase CLI: every `npx supabase ...` command is one the CLI has (its --help names exactly that
// command and every flag used), and every secret name passes the CLI's rule for `secrets set`
// (NAME=VALUE pairs; a name starting with SUPABASE_ is skipped with "Env name cannot start with
// SUPABASE_, skipping"). Also: every setting the functions read is either injected by Supabase or
// named in the section, and the Vault secrets it tells you to create are the ones the schedule reads.
import { assert, assertEquals } from "../_support/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const readme = Deno.readTextFileSync(`${ROOT}README.md`);
const start = readme.indexOf("## Deploying to a hosted Supabase project");
const end = readme.indexOf("\n## ", start + 3);
const section = readme.slice(start, end < 0 ? undefined : end);

/** Every `npx supabase ...` command in the section: in code blocks and in inline code. */
function commands(): string[] {
  const found: string[] = [];
  const text = section.replace(/\\\n\s*/g, " ");
  for (const m of text.matchAll(/npx supabase ([^`\n#]*)/g)) found.push(m[1].trim());
  return found;
}

/** Split like a shell would for these simple lines (double quotes only). */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

async function help(path: string[]): Promise<string> {
  const out = await new Deno.Command("npx", {
    args: ["--no-install", "supabase", ...path, "--help"],
    cwd: ROOT,
    stdin: "null",
  }).output();
  assert(out.success, `supabase ${path.join(" ")} --help failed`);
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

// The CLI's rule (internal/secrets/set/set.go): NAME=VALUE, and no SUPABASE_ prefix.
const acceptedSecretName = (name: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !name.startsWith("SUPABASE_");

Deno.test("README deploy: every CLI command and flag exists in the pinned CLI", async () => {
  const cmds = commands();
  assert(cmds.length >= 5, `the deploy section has the CLI's commands (found ${cmds.length})`);
  const pinned = JSON.parse(Deno.readTextFileSync(`${ROOT}package.json`)).devDependencies.supabase;
  const version = new TextDecoder().decode(
    (await new Deno.Command("npx", { args: ["--no-install", "supabase", "--version"], cwd: ROOT }).output()).stdout,
  ).trim();
  assertEquals(version, pinned);

  const helps = new Map<string, string>();
  for (const cmd of cmds) {
    const w = words(cmd);
    const path = w.slice(0, w.findIndex((x) => !/^[a-z][a-z-]*$/.test(x)) >>> 0);
    const flags = w.filter((x) => x.startsWith("-")).map((x) => x.split("=")[0]);
    const key = path.join(" ");
    if (!helps.has(key)) helps.set(key, await help(path));
    const text = helps.get(key)!;
    // An unknown command prints the root help; a known one names itself in USAGE.
    const usage = /USAGE\s*\n\s*(.+)/.exec(text)?.[1] ?? "";
    assert(new RegExp(`^supabase ${key}( |$)`).test(usage), `"supabase ${key}" is a command of the CLI (usage: ${usage})`);
    for (const f of flags) {
      assert(new RegExp(`(^|[\\s,])${f}([\\s,]|$)`, "m").test(text), `"supabase ${key}" has the flag ${f}`);
    }
  }
});

Deno.test("README deploy: every secret name passes the CLI's rule and every non-injected setting is named", () => {
  const set = commands().filter((c) => c.startsWith("secrets set"));
  assert(set.length > 0, "the section sets the functions' secrets");
  const names: string[] = [];
  for (const cmd of set) {
    for (const w of words(cmd).slice(2)) {
      if (w.startsWith("-") || w.startsWith("<")) continue;
      if (/^[a-z0-9-]+$/.test(w)) continue; // a flag's value, e.g. the project ref
      const eq = w.indexOf("=");
      assert(eq > 0, `"${w}" is a NAME=VALUE pair, as the CLI requires`);
      names.push(w.slice(0, eq));
    }
  }
  for (const cmd of commands().filter((c) => c.startsWith("secrets unset"))) {
    names.push(...words(cmd).slice(2).filter((w) => /^[A-Z][A-Z0-9_]*$/.test(w)));
  }
  assert(names.length >= 3, `secret names found: ${names}`);
  for (const n of names) assert(acceptedSecretName(n), `the CLI refuses the secret name ${n}`);
  // Nothing in the section tells you to set a SUPABASE_ name.
  assert(!/secrets set[^\n]*\bSUPABASE_/.test(section), "no SUPABASE_ secret in a secrets set command");

  // What the functions read: injected by Supabase, or a secret this section names.
  const injected = new Set([
    "SUPABASE_URL", "SUPABASE_DB_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_SECRET_KEYS", "SUPABASE_JWKS",
  ]);
  const read = new Set<string>();
  for (const f of walk(`${ROOT}functions`)) {
    for (const m of Deno.readTextFileSync(f).matchAll(/(?:Deno\.env\.get|\benv|keyValues)\("([A-Z0-9_]+)"\)/g)) read.add(m[1]);
  }
  assert(read.has("UPSTASH_REDIS_REST_URL") && read.has("LEGACY_JWT_SECRET"), `found what the functions read: ${[...read]}`);
  for (const name of read) {
    if (name === "ANALYTICS_NOW") continue; // a test clock, never set on a project
    if (name.startsWith("SUPABASE_")) assert(injected.has(name), `${name} is not one Supabase injects`);
    else assert(section.includes(name), `the deploy section names ${name}, which the functions read`);
  }
});

Deno.test("README deploy: the Vault secrets it creates are the ones the realtime schedule reads", () => {
  const created = [...section.matchAll(/vault\.create_secret\('[^']*',\s*'([a-z_]+)'\)/g)].map((m) => m[1]).sort();
  const migrations = [...Deno.readDirSync(`${ROOT}supabase/migrations`)].map((e) => e.name).sort();
  const latest = migrations.filter((n) => Deno.readTextFileSync(`${ROOT}supabase/migrations/${n}`).includes("'realtime-sync'"))
    .at(-1)!;
  const schedule = Deno.readTextFileSync(`${ROOT}supabase/migrations/${latest}`);
  const read = [...new Set([...schedule.matchAll(/decrypted_secrets\s+where name = '([a-z_]+)'/g)].map((m) => m[1]))];
  assertEquals(created, ["project_url", "secret_key"]);
  for (const name of created) assert(read.includes(name), `${latest} reads the Vault secret ${name}`);
});

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(p);
    else if (p.endsWith(".ts")) yield p;
  }
}
