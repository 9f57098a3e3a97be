-- Largest-remainder percentages broke ties the wrong way (outside audit, 2026-11-27): the remainders
-- were numeric shares (count * 100.0 / total) minus their floors, and PostgreSQL gives a quotient a
-- scale that depends on its operands, so two equal remainders could differ in their last digits (a
-- small count's share carries more of them). The points left then went to the smaller category, not
-- to the larger count as docs/api.md says: [59, 3, 498] gave 10 / 1 / 89 instead of 11 / 0 / 89;
-- 2 of ~9,000 dashboard responses of the audit (devices). The floor and the remainder are now exact
-- integers: floor = count * 100 / total (bigint division), remainder = count * 100 % total (sum() of
-- bigints is numeric: the total is cast back).
-- Body as in 20261125130000 but for the arithmetic.
create or replace function public.whole_percentages(p_keys text[], p_counts bigint[])
returns table (key text, count bigint, percentage integer)
language sql
immutable
security invoker
set search_path = ''
as $$
  with input as (
    select k as key, c as count from unnest(p_keys, p_counts) as u (k, c) where c > 0
  ), totals as (
    select key, count, (sum(count) over ())::bigint as total from input
  ), floored as (
    select key, count, (count * 100 / total)::integer as base, count * 100 % total as remainder,
           100 - sum((count * 100 / total)::integer) over () as missing
    from totals
  )
  select key, count,
         base + case when row_number() over (order by remainder desc, count desc, key) <= missing
                     then 1 else 0 end
  from floored
  order by count desc, key;
$$;
