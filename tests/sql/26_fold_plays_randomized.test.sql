-- Randomized play events, folded over several runs with a day rebuild in between, against the
-- independent recount (tests.play_mismatches): per seed, 300 plays on four mashups and on two
-- mashup ids that do not exist; 0-2 played events per play (a retry with a new id, sometimes at the
-- same instant, sometimes naming another mashup), 0-6 heartbeats with positions from -10 to 400 s
-- (beyond the duration too), endings, a third of the play ids in upper case; each event arrives in
-- one of five runs, whatever its timestamp (late events and events before their play's start).
begin;
\ir _helpers.psql
\ir _play_recount.psql
set search_path = public, extensions, tests;
select plan(9);
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');
select tests.create_supabase_user('random-owner');

create function pg_temp.fold_random_plays(p_seed double precision)
returns void
language plpgsql
as $$
declare
  v_run int;
begin
  perform setseed(p_seed);
  insert into public.mashups (id, creator_id, title, duration_seconds)
  select md5('random-mashup-' || p_seed || '-' || i)::uuid, tests.get_supabase_uid('random-owner'),
         'Random ' || p_seed || ' ' || i, 60 + i * 30
  from generate_series(1, 4) i;

  create temporary table rnd_plays on commit drop as
  select md5('random-play-' || p_seed || '-' || p)::uuid as play_id, 1 + floor(random() * 6)::int as m,
         '2026-03-09 22:00+00'::timestamptz + random() * interval '30 hours' as t0, random() < 0.3 as upper_id
  from generate_series(1, 300) p;
  create temporary table rnd_events on commit drop as
  select gen_random_uuid() as id, e.*, md5('random-mashup-' || p_seed || '-' || e.m)::uuid as mashup,
         1 + floor(random() * 5)::int as run
  from (
    -- (The random draws are columns of a lateral subquery: each row draws its own.)
    select p.play_id, p.upper_id, 'mashup_played' as t,
           case when x.k = 2 and x.r2 < 0.5 then 1 + floor(x.r3 * 6)::int else p.m end as m,
           case when x.k = 2 and x.r4 < 0.4 then p.t0 else p.t0 + (x.r5 - 0.5) * interval '2 minutes' end as ts,
           null::numeric as pos
    from rnd_plays p
    cross join lateral (select g.k, random() as r1, random() as r2, random() as r3, random() as r4, random() as r5
                        from generate_series(1, 2) as g (k) where p.play_id is not null) x
    where x.k = 1 and x.r1 < 0.9 or x.k = 2 and x.r1 < 0.25
    union all
    select p.play_id, p.upper_id, 'mashup_play_progress', p.m, p.t0 + h * interval '30 seconds',
           round((random() * 410 - 10)::numeric, 1)
    from rnd_plays p, generate_series(1, 6) h where random() < 0.6
    union all
    select p.play_id, p.upper_id, 'mashup_play_ended', p.m, p.t0 + interval '4 minutes', round((random() * 300)::numeric)
    from rnd_plays p where random() < 0.5
  ) e;

  for v_run in 1 .. 5 loop
    insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, received_at)
    select e.id, e.t,
           jsonb_strip_nulls(jsonb_build_object(
             'mashup_id', e.mashup,
             'play_id', case when e.upper_id then upper(e.play_id::text) else e.play_id::text end,
             'position_seconds', e.pos)),
           e.ts, 'rnd-' || left(e.play_id::text, 3), '2026-03-11 00:00+00'::timestamptz + v_run * interval '1 hour'
    from rnd_events e where e.run = v_run;
    if v_run = 4 then
      perform aggregation.mashup_day('2026-03-10');   -- a day rebuild between two runs
    end if;
    perform aggregation.run_incremental(p_lag => '0', p_until => '2026-03-11 00:30+00'::timestamptz + v_run * interval '1 hour',
                                        p_max_window => '100 days', p_job => 'pgtap-random', p_wait => true);
  end loop;
  drop table rnd_plays, rnd_events;
end;
$$;

select pg_temp.fold_random_plays(0.17);
select is_empty($$ select * from tests.play_mismatches('rnd-') where mismatched <> 0 $$,
  'seed 0.17: every play summary and retention row equals the recount');
select pg_temp.fold_random_plays(0.67);
select is_empty($$ select * from tests.play_mismatches('rnd-') where mismatched <> 0 $$,
  'seed 0.67: every play summary and retention row equals the recount');
select pg_temp.fold_random_plays(0.89);
select is_empty($$ select * from tests.play_mismatches('rnd-') where mismatched <> 0 $$,
  'seed 0.89: every play summary and retention row equals the recount');
select pg_temp.fold_random_plays(0.31);
select is_empty($$ select * from tests.play_mismatches('rnd-') where mismatched <> 0 $$,
  'seed 0.31: every play summary and retention row equals the recount');

select is_empty($$ select status from aggregation.runs where job = 'pgtap-random' and status <> 'succeeded' $$,
  'every run succeeded');
select cmp_ok((select count(*) from public.mashup_play_summaries s
               join public.mashups m on m.id = s.mashup_id where m.title like 'Random %'), '>', 500::bigint,
  'the seeds made hundreds of summarized plays');
select cmp_ok((select count(*) from public.mashup_play_summaries s
               join public.mashups m on m.id = s.mashup_id
               where m.title like 'Random %' and s.started_event_id is not null
                 and exists (select 1 from public.analytics_events e
                             where e.event_type = 'mashup_played' and e.anonymous_id like 'rnd-%'
                               and lower(e.properties ->> 'play_id')::uuid = s.play_id and e.id <> s.started_event_id)),
  '>', 20::bigint, 'and plays with two played events (a retry, another mashup, the same instant)');
select cmp_ok((select count(*) from aggregation.play_folds), '>', 100::bigint,
  'and plays that wait for a summary (no played event, or a missing mashup)');
-- The summaries hold their fold: each summarized play's started_event_id is its earliest played
-- event of an existing mashup.
select is_empty($$
  select s.play_id from public.mashup_play_summaries s join public.mashups m on m.id = s.mashup_id
  where m.title like 'Random %'
    and s.started_event_id is distinct from (
      select e.id from public.analytics_events e
      where e.event_type = 'mashup_played' and e.anonymous_id like 'rnd-%' and e.mashup_id is not null
        and lower(e.properties ->> 'play_id')::uuid = s.play_id
      order by e."timestamp", e.id limit 1) $$,
  'every summary names its play''s earliest played event');

select * from finish();
rollback;
