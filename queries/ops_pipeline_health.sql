-- ops_pipeline_health: per pipeline, how many runs there were, how many failed, how long they took.
-- params: $start, $end (timestamps)
-- tables: pipeline_runs
-- returns: pipeline, runs, failed, failure_rate, median_duration_s, p95_duration_s, last_run, last_failure,
--          last_error
WITH runs AS (
  SELECT
    pipeline,
    run_id,
    min(started_at) AS started_at,
    date_diff('millisecond', min(started_at), max(finished_at)) / 1000.0 AS duration_s,
    bool_or(status = 'failed') AS failed,
    any_value(error) FILTER (WHERE status = 'failed') AS error
  FROM pipeline_runs
  WHERE started_at >= $start
    AND started_at < $end
  GROUP BY pipeline, run_id
)
SELECT
  pipeline,
  count(*) AS runs,
  count(*) FILTER (WHERE failed) AS failed,
  avg(CAST(failed AS DOUBLE)) AS failure_rate,
  median(duration_s) AS median_duration_s,
  quantile_cont(duration_s, 0.95) AS p95_duration_s,
  max(started_at) AS last_run,
  max(started_at) FILTER (WHERE failed) AS last_failure,
  arg_max(error, started_at) FILTER (WHERE failed) AS last_error
FROM runs
GROUP BY pipeline
ORDER BY pipeline
