-- overview_incidents_pipelines: episodes of consecutive failed runs per pipeline.
-- params: $start, $end (timestamps)
-- tables: pipeline_runs
-- returns: pipeline, started, ended, failed_runs, error (one of the errors seen)
WITH runs AS (
  SELECT
    pipeline,
    run_id,
    min(started_at) AS started_at,
    max(finished_at) AS finished_at,
    bool_or(status = 'failed') AS failed,
    any_value(error) FILTER (WHERE status = 'failed') AS error
  FROM pipeline_runs
  WHERE started_at >= $start
    AND started_at < $end
  GROUP BY pipeline, run_id
),
ordered AS (
  SELECT
    *,
    row_number() OVER (PARTITION BY pipeline ORDER BY started_at)
      - row_number() OVER (PARTITION BY pipeline, failed ORDER BY started_at) AS island
  FROM runs
)
SELECT
  pipeline,
  min(started_at) AS started,
  max(finished_at) AS ended,
  count(*) AS failed_runs,
  any_value(error) AS error
FROM ordered
WHERE failed
GROUP BY pipeline, island
ORDER BY started DESC
