// A second, throwaway local PostgreSQL 15 that subscribes to the stack's raw-event publication
// (analytics_raw_events), the way a warehouse pipeline or a replica would. It runs on the stack's
// port block (STACK_PORT + 2 = the stack's PostgreSQL port + 1), in a temporary directory, and
// stop() removes everything: the subscription (and with it the replication slot on the stack's
// server), the server and its directory.
import postgres from "postgres";
import { ENV } from "./env.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const isRoot = Deno.uid() === 0;

async function run(cmd: string, args: string[]): Promise<string> {
  // The server refuses to run as root: as root, run it as the postgres user (as scripts/stack.sh does).
  const command = isRoot
    ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", cmd, ...args] })
    : new Deno.Command(cmd, { args });
  const out = await command.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return text;
}

export type Subscriber = {
  sql: postgres.Sql;
  subscription: string;
  stop: () => Promise<void>;
};

/** The subscriber's copy of the raw tables: the compact physical row and the bot table, plain tables (partitions publish as their root). */
const SUBSCRIBER_SCHEMA = `
create schema raw_events;
create table raw_events.analytics_events (
  "timestamp" timestamptz not null, received_at timestamptz not null, id uuid not null, user_id uuid,
  mashup_id uuid, play_id uuid, event_code "char", device_code "char", event_name text, session_id text,
  anonymous_id text, country text, properties jsonb not null
);
alter table raw_events.analytics_events replica identity full;
-- What a warehouse would define over the compact row (the primary's view, reduced to what is read here).
create view public.analytics_events as
select e.id, e."timestamp", e.received_at, e.anonymous_id,
       coalesce('u:' || e.user_id::text, 'a:' || e.anonymous_id, 's:' || e.session_id, 'e:' || e.id::text) as listener_key
from raw_events.analytics_events e;
create table public.analytics_bot_events (
  id uuid not null, event_type text not null, properties jsonb not null, "timestamp" timestamptz not null,
  received_at timestamptz not null, user_agent text
);
alter table public.analytics_bot_events replica identity full;
`;

export async function startSubscriber(): Promise<Subscriber> {
  const publisherPort = Number(new URL(ENV.SUPABASE_DB_URL).port);
  const port = publisherPort + 1;
  const dir = await Deno.makeTempDir({ prefix: "raw-events-subscriber-" });
  if (isRoot) await new Deno.Command("chown", { args: ["postgres:postgres", dir] }).output();
  const subscription = `raw_events_test_${crypto.randomUUID().slice(0, 8)}`;
  let started = false;
  let sql: postgres.Sql | undefined;
  let subscribed = false;

  const stop = async () => {
    try {
      if (sql && subscribed) await sql.unsafe(`drop subscription if exists ${subscription}`);
    } catch (_) {
      // The slot is then dropped on the publisher below.
    }
    await sql?.end({ timeout: 5 });
    if (started) await run(`${PG_BIN}/pg_ctl`, ["-D", dir, "-m", "immediate", "-w", "stop"]).catch(() => {});
    const publisher = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
    try {
      await publisher`select pg_drop_replication_slot(slot_name) from pg_replication_slots
                      where slot_name = ${subscription} and not active`;
    } finally {
      await publisher.end({ timeout: 5 });
    }
    await Deno.remove(dir, { recursive: true });
  };

  try {
    await run(`${PG_BIN}/initdb`, [
      "-D",
      dir,
      "-U",
      "postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
    ]);
    await run(`${PG_BIN}/pg_ctl`, [
      "-D",
      dir,
      "-w",
      "-t",
      "60",
      "-l",
      `${dir}/server.log`,
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c timezone=UTC`,
      "start",
    ]);
    started = true;
    sql = postgres({
      host: "127.0.0.1",
      port,
      user: "postgres",
      database: "postgres",
      max: 1,
      onnotice: () => {},
    });
    await sql.unsafe(SUBSCRIBER_SCHEMA);
    const conn =
      `host=127.0.0.1 port=${publisherPort} dbname=postgres user=postgres password=postgres sslmode=disable`;
    // copy_data = false: the test is about what arrives from now on, not the demo history.
    await sql.unsafe(
      `create subscription ${subscription} connection '${conn}' publication analytics_raw_events
       with (copy_data = false)`,
    );
    subscribed = true;
    return { sql, subscription, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
