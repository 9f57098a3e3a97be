begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(6);

-- A day's read of raw events visits that day's pages, even when later rows were placed in older
-- pages (a narrow event filling an old page's gap: 20261127000500_raw_time_indexes_minmax_multi.sql).

-- 1. Every BRIN index on the raw events (the partitioned parents and every partition, events and bot
-- events alike) uses a minmax-multi operator class, with 8 values per range: a row stored in an old,
-- summarized range rewrites that range's summary, and 32 values (the default) made storing events
-- 12 % slower (20261127000600).
select is_empty($$
  select ic.relname || ' (' || o.opcname || ')'
  from pg_index i
  join pg_class c on c.oid = i.indrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_class ic on ic.oid = i.indexrelid
  join pg_am a on a.oid = ic.relam and a.amname = 'brin'
  cross join lateral unnest(i.indclass::oid[]) as k (opc)
  join pg_opclass o on o.oid = k.opc
  where (n.nspname = 'raw_events' or (n.nspname = 'public' and c.relname = 'analytics_bot_events'))
    and (o.opcname not like '%minmax_multi%' or pg_get_indexdef(i.indexrelid) not like '%values_per_range=''8''%')
$$, 'every BRIN index on raw events keeps several values per range (minmax-multi, 8 values)');
select ok((select count(*) from pg_index i join pg_class ic on ic.oid = i.indexrelid
           join pg_am a on a.oid = ic.relam and a.amname = 'brin'
           where i.indrelid = 'raw_events.analytics_events'::regclass) = 2,
  'the raw events have their two time indexes');

-- 2. The behaviour, on copies of the stored table with its indexes: five UTC days of events in time
-- order, summarized; then one row in every 32-page range of the first day moves to the fifth day, in
-- place (room is left on every page), as a late narrow event lands in an old page's gap. Reading the
-- third day must visit the same pages before and after. With the one-min/max class (a second copy, the
-- index before the migration) the same moves make the third day's read visit the first day's pages:
-- the scenario shows what it guards against.
create function pg_temp.fill(p_table regclass) returns void language plpgsql as $$
begin
  execute format($f$
    insert into %s ("timestamp", received_at, id, event_name, properties)
    select timestamptz '2026-03-01 00:00:00+00' + (g * interval '1 day' / 2000), now(), gen_random_uuid(),
           'x', jsonb_build_object('pad', repeat('p', 150))
    from generate_series(0, 5 * 2000 - 1) as g
    order by g$f$, p_table);
  execute format('analyze %s', p_table);
end $$;

create function pg_temp.brin_of(p_table regclass) returns regclass language sql as $$
  select i.indexrelid::regclass from pg_index i join pg_class ic on ic.oid = i.indexrelid
  join pg_am a on a.oid = ic.relam and a.amname = 'brin'
  where i.indrelid = p_table and pg_get_indexdef(i.indexrelid) like '%("timestamp"%'
$$;

-- Pages a read of one UTC day visits through the time index (the bitmap heap scan's blocks).
create function pg_temp.day_read_pages(p_table regclass, p_day date) returns integer language plpgsql as $$
declare
  v_plan jsonb;
begin
  set local enable_seqscan = off;
  execute format('explain (analyze, costs off, timing off, format json) select count(*) from %s
                  where "timestamp" >= %L::timestamptz and "timestamp" < %L::timestamptz',
                 p_table, p_day::text || ' 00:00:00+00', (p_day + 1)::text || ' 00:00:00+00') into v_plan;
  return coalesce((jsonb_path_query_first(v_plan, 'strict $.**."Exact Heap Blocks"'))::integer, 0)
       + coalesce((jsonb_path_query_first(v_plan, 'strict $.**."Lossy Heap Blocks"'))::integer, 0);
end $$;

-- Moves the first row of every 32-page range holding the first day to the fifth day, in place.
create function pg_temp.move_first_day_rows(p_table regclass) returns integer language plpgsql as $$
declare
  v_n integer;
begin
  execute format($f$
    update %1$s t set "timestamp" = timestamptz '2026-03-05 12:00:00.123+00'
    where t.ctid in (select min(ctid) from %1$s
                     where "timestamp" < timestamptz '2026-03-02 00:00:00+00'
                     group by (ctid::text::point)[0]::integer / 32)$f$, p_table);
  get diagnostics v_n = row_count;
  return v_n;
end $$;

create temp table day_reads (like raw_events.analytics_events including indexes) with (fillfactor = 50, autovacuum_enabled = off);
create temp table day_reads_minmax (like raw_events.analytics_events) with (fillfactor = 50, autovacuum_enabled = off);
create index on day_reads_minmax using brin ("timestamp" timestamptz_minmax_ops) with (pages_per_range = 32);
do $$
begin
  perform pg_temp.fill('day_reads'), pg_temp.fill('day_reads_minmax');
  perform brin_summarize_new_values(pg_temp.brin_of('day_reads')), brin_summarize_new_values(pg_temp.brin_of('day_reads_minmax'));
end $$;

create temp table reads_before as
select pg_temp.day_read_pages('day_reads', '2026-03-03') as multi,
       pg_temp.day_read_pages('day_reads_minmax', '2026-03-03') as minmax;

select is(pg_temp.move_first_day_rows('day_reads'), pg_temp.move_first_day_rows('day_reads_minmax'),
  'the scenario moves as many rows in both copies');

select is((select count(*)::integer from day_reads
           where "timestamp" >= '2026-03-05 00:00:00+00' and "timestamp" < '2026-03-06 00:00:00+00'
             and (ctid::text::point)[0] < (select min((ctid::text::point)[0]) from day_reads
                                           where "timestamp" >= '2026-03-02 00:00:00+00'
                                             and "timestamp" <> '2026-03-05 12:00:00.123+00')),
          (select count(*)::integer from day_reads
           where "timestamp" = '2026-03-05 12:00:00.123+00'),
  'every moved row stayed in a page of the first day');

select is(pg_temp.day_read_pages('day_reads', '2026-03-03'), (select multi from reads_before),
  'reading the third day visits the same pages after later rows landed in the first day''s pages');
select cmp_ok(pg_temp.day_read_pages('day_reads_minmax', '2026-03-03'), '>', (select minmax from reads_before),
  'with one min/max per range (the index before), the same moves make the third day''s read visit the first day''s pages');

select * from finish();
rollback;
