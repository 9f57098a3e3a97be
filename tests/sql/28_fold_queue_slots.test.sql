-- The fold queue's three slots (20261126190000): new events go to the slot that is filling; a run
-- switches the filling slot to the next one and takes the two others whole, emptying them; what lies
-- past its window goes back and a later run takes it; an event that lands in a slot after a run
-- emptied it (a statement that read the slot number just before the switch) and the events of a
-- failed run (its TRUNCATE rolls back) are taken by the next run; a slot moved without a run (after a
-- crash) loses nothing. Each event is folded exactly once, checked on the fixture mashup's counts.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(19);

select tests.create_supabase_user('slots creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-2800-4000-8000-000000000001', tests.get_supabase_uid('slots creator'), 'Slots mix', 120);

-- Everything queued before this test is folded first.
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 years', p_wait => true);

create function tests.filling_slot() returns int language sql as
  $$ select (last_value % 3)::int from aggregation.pending_events_slot $$;
create function tests.plays() returns int language sql as
  $$ select coalesce((select plays from public.mashup_lifetime_stats
                      where mashup_id = 'cccccccc-2800-4000-8000-000000000001'), 0) $$;
create function tests.queued(p_slot int) returns int language sql as
  $$ select count(*)::int from aggregation.pending_events
     where slot = p_slot and mashup_id = 'cccccccc-2800-4000-8000-000000000001' $$;
create function tests.queued() returns int language sql as
  $$ select count(*)::int from aggregation.pending_events where mashup_id = 'cccccccc-2800-4000-8000-000000000001' $$;
-- (received a second ago: a window ending at now() - p_lag does not hold what arrived at now())
create function tests.store_plays(n int, p_received timestamptz default now() - interval '1 second') returns void language sql as $$
  insert into public.analytics_events (event_type, properties, "timestamp", session_id, received_at)
  select 'mashup_played', '{"mashup_id": "cccccccc-2800-4000-8000-000000000001"}', now() - interval '1 minute',
         'sess-slots-' || g, p_received
  from generate_series(1, n) g
$$;
create function tests.run() returns bigint language sql as
  $$ select aggregation.run_incremental(p_lag => '0', p_max_window => '100 years', p_wait => true) $$;
create temporary table slots (name text primary key, slot int) on commit drop;
insert into slots values ('first', tests.filling_slot());

-- 1. Stored events wait in the filling slot, and only there.
select tests.store_plays(3);
select is(tests.queued((select slot from slots where name = 'first')), 3, 'new events are queued in the filling slot');
select is(tests.queued(), 3, 'and nowhere else');

-- 2. A run moves the filling slot on and takes the others whole.
select tests.run();
select is(tests.filling_slot(), ((select slot from slots where name = 'first') + 1) % 3,
  'a run moves the filling slot to the next one');
select is((select count(*)::int from aggregation.pending_events where slot <> tests.filling_slot()), 0,
  'and empties the two others');
select is(tests.plays(), 3, 'its events are folded');

-- 3. The window: what arrived past p_until goes back to the queue, and a later run takes it once.
select tests.store_plays(2, now() - interval '1 hour');
select tests.store_plays(4, now() + interval '1 hour');
select aggregation.run_incremental(p_lag => '0', p_until => now(), p_max_window => '100 years', p_wait => true);
select is(tests.plays(), 5, 'a run takes the events of its window');
select is(tests.queued(tests.filling_slot()), 4, 'the rest wait in the filling slot');
select aggregation.run_incremental(p_lag => '0', p_until => now(), p_max_window => '100 years', p_wait => true);
select is(tests.plays(), 5, 'still outside the window: still waiting');
select aggregation.run_incremental(p_lag => '-2 hours', p_max_window => '100 years', p_wait => true);
select is(tests.plays(), 9, 'taken once the window reaches them, each once');
select is(tests.queued(), 0, 'nothing of them left queued');

-- 4. A straggler: events written into a slot a run has just emptied (as by a statement that read the
-- slot number before the switch and inserted after the TRUNCATE), next to events in the filling slot.
insert into slots values ('emptied', (tests.filling_slot() + 2) % 3);
insert into public.analytics_events (event_type, properties, "timestamp", session_id, received_at)
select 'mashup_played', '{"mashup_id": "cccccccc-2800-4000-8000-000000000001"}', now() - interval '1 minute',
       'sess-straggler-' || g, now() - interval '1 second'
from generate_series(1, 2) g;
update aggregation.pending_events set slot = (select slot from slots where name = 'emptied')
where listener_key like 's:sess-straggler-%';
select tests.store_plays(1);
select is(tests.queued((select slot from slots where name = 'emptied')), 2, 'two events wait in the emptied slot');
select tests.run();
select is(tests.plays(), 12, 'the next run takes them and the filling slot''s, each once');
select is(tests.queued(), 0, 'nothing left queued');

-- 5. The filling slot moved without a run (a crash: the sequence resumes up to 32 values ahead):
-- every slot holds events; the next run takes all but the one it makes filling, the one after the rest.
select tests.store_plays(2);
select setval('aggregation.pending_events_slot', (select last_value + 1 from aggregation.pending_events_slot), true);
select tests.store_plays(3);
select setval('aggregation.pending_events_slot', (select last_value + 1 from aggregation.pending_events_slot), true);
select tests.store_plays(4);
select is((select count(distinct slot)::int from aggregation.pending_events
           where mashup_id = 'cccccccc-2800-4000-8000-000000000001'), 3, 'events wait in all three slots');
select tests.run();
select is(tests.plays(), 12 + 7, 'a run takes the two slots it does not make filling');
select tests.run();
select is(tests.plays(), 12 + 9, 'the next run the third; each event once');

-- 6. A failed run keeps what it took: its TRUNCATE rolls back, and the next run takes it.
create function tests.fail_fold() returns trigger language plpgsql as
  $$ begin raise exception 'induced failure for the test'; end $$;
create trigger fail_fold before insert or update on public.mashup_lifetime_stats
  for each row when (new.mashup_id = 'cccccccc-2800-4000-8000-000000000001') execute function tests.fail_fold();
select tests.store_plays(5);
create temporary table failed_run on commit drop as select tests.run() as id;
select is((select status from aggregation.runs where id = (select id from failed_run)),
  'failed', 'a run that fails is logged as failed');
select is(tests.queued(), 5, 'and its events are still queued');
drop trigger fail_fold on public.mashup_lifetime_stats;
select tests.run();
select is(tests.plays(), 26, 'the next run takes them, once');

select * from finish();
rollback;
