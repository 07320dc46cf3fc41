-- ops_pipeline_runs: one row per pipeline run (its stages folded), with duration and the failing stage.
-- params: $start, $end (timestamps)
-- tables: pipeline_runs
-- returns: pipeline, run_id, started_at, finished_at, duration_s, status ('success' | 'failed'),
--          stages, failed_stage, error, rows_out
SELECT
  pipeline,
  run_id,
  min(started_at) AS started_at,
  max(finished_at) AS finished_at,
  date_diff('millisecond', min(started_at), max(finished_at)) / 1000.0 AS duration_s,
  CASE WHEN bool_or(status = 'failed') THEN 'failed' ELSE 'success' END AS status,
  count(*) AS stages,
  any_value(stage) FILTER (WHERE status = 'failed') AS failed_stage,
  any_value(error) FILTER (WHERE status = 'failed') AS error,
  arg_max(rows_out, finished_at) AS rows_out
FROM pipeline_runs
WHERE started_at >= $start
  AND started_at < $end
GROUP BY pipeline, run_id
ORDER BY started_at
