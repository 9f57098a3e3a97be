-- The dashboard's whole-day reads use the period's bounds as index conditions.
--
-- dashboard_mashup_totals() and dashboard_breakdown_totals() joined the rollups with a CTE holding
-- the period's parts, so the day bounds were a join filter: the creator's (mashup's) rows of every
-- day were read and most thrown away (at 10M events, 6,819 breakdown rows read for 3,288 used in a
-- 30-day period, half of a top creator's dashboard call). The bounds are now scalar subqueries
-- (computed once, before the scan), which the planner uses as index conditions. Same rows, same
-- sums, same results. The breakdown keys are grouped byte-wise (collate "C": the same groups,
-- since equal strings are equal in any deterministic collation), which made sorting a top
-- creator's ~3,300 rows 4 ms cheaper than under the database's linguistic collation.

create or replace function public.dashboard_mashup_totals(p_mashups uuid[], p_from timestamptz, p_to timestamptz)
returns table (mashup_id uuid, plays bigint, likes bigint)
language sql
stable
security invoker
set search_path = ''
as $$
  select parts.mashup_id, sum(parts.plays)::bigint, sum(parts.likes)::bigint
  from (
    select d.mashup_id, d.plays, d.likes
    from public.mashup_daily_stats d
    where d.mashup_id = any (p_mashups)
      and d.date >= (select p.first_day from public.dashboard_period_parts(p_from, p_to) p)
      and d.date < (select p.end_day from public.dashboard_period_parts(p_from, p_to) p)
    union all
    select s.mashup_id, s.plays, s.likes
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = any (p_mashups) and s.bucket_start >= p_from
      and s.bucket_start < (select p.head_end from public.dashboard_period_parts(p_from, p_to) p)
    union all
    select s.mashup_id, s.plays, s.likes
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = any (p_mashups) and s.bucket_start < p_to
      and s.bucket_start >= (select p.tail_start from public.dashboard_period_parts(p_from, p_to) p)
  ) parts
  group by parts.mashup_id
$$;

create or replace function public.dashboard_breakdown_totals(p_creators uuid[], p_mashups uuid[], p_from timestamptz,
                                                             p_to timestamptz)
returns table (source text, country text, device text, plays bigint)
language sql
stable
security invoker
set search_path = ''
as $$
  select parts.source, parts.country, parts.device, sum(parts.plays)::bigint
  from (
    select b.source collate "C", b.country collate "C", b.device collate "C", b.plays
    from public.creator_daily_breakdowns b
    where b.creator_id = any (p_creators)
      and b.date >= (select p.first_day from public.dashboard_period_parts(p_from, p_to) p)
      and b.date < (select p.end_day from public.dashboard_period_parts(p_from, p_to) p)
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b
    where b.mashup_id = any (p_mashups) and b.bucket_start >= p_from
      and b.bucket_start < (select p.head_end from public.dashboard_period_parts(p_from, p_to) p)
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b
    where b.mashup_id = any (p_mashups) and b.bucket_start < p_to
      and b.bucket_start >= (select p.tail_start from public.dashboard_period_parts(p_from, p_to) p)
  ) parts
  group by 1, 2, 3
$$;
