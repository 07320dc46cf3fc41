-- service_states: each instance's runs of consecutive samples in one state (up or down) in [start, end), for
-- the up/down timeline. A sample vouches for its instance until the next one, for at most 10 minutes: a
-- longer silence ends the run, and the timeline shows it as a gap (no data), not as up or down.
-- params: $start, $end (timestamps)
-- tables: service_metrics
-- returns: service, instance, up (0 | 1), run_start, run_end, samples
WITH samples AS (
  SELECT
    service,
    instance,
    ts,
    CAST(up > 0 AS INTEGER) AS up,
    lag(CAST(up > 0 AS INTEGER)) OVER w AS previous_up,
    lag(ts) OVER w AS previous_ts,
    least(coalesce(lead(ts) OVER w, ts), ts + INTERVAL 10 MINUTE) AS vouched_until
  FROM service_metrics
  WHERE dt >= CAST($start AS DATE)
    AND dt <= CAST($end - INTERVAL 1 MICROSECOND AS DATE)
    AND ts >= $start
    AND ts < $end
  WINDOW w AS (PARTITION BY service, instance ORDER BY ts)
),
numbered AS (
  SELECT
    *,
    sum(CASE WHEN up IS DISTINCT FROM previous_up OR ts - previous_ts > INTERVAL 10 MINUTE THEN 1 ELSE 0 END)
      OVER (PARTITION BY service, instance ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run
  FROM samples
)
SELECT
  service,
  instance,
  up,
  min(ts) AS run_start,
  max(vouched_until) AS run_end,
  count(*) AS samples
FROM numbered
GROUP BY service, instance, up, run
ORDER BY service, instance, run_start
