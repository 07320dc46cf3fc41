-- training_metrics: each training run's metric curves (loss, val_accuracy ...) with the run's model version, oldest
-- run first, thinned to at most $max_points points per run and metric. A run with more logged steps than that is
-- cut into $max_points equal spans of steps, each shown by its last logged point: every point drawn is a value the
-- run logged, and the run's last step is always one of them (its final value, as training_runs has it).
-- params: $model_version (NULL = all), $metric (a metric key; NULL = all), $max_points (points per run and metric)
-- tables: training_metrics, training_runs
-- returns: model_version, run_id, finished_at, metric, step, ts, value, logged (points the shown one stands for)
WITH points AS (
  SELECT
    r.model_version,
    m.run_id,
    r.finished_at,
    m.key AS metric,
    m.step,
    m.ts,
    m.value,
    min(m.step) OVER curve AS first_step,
    max(m.step) OVER curve - min(m.step) OVER curve + 1 AS span
  FROM training_metrics AS m
  JOIN training_runs AS r USING (run_id)
  WHERE (CAST($model_version AS VARCHAR) IS NULL OR r.model_version = $model_version)
    AND (CAST($metric AS VARCHAR) IS NULL OR m.key = $metric)
  WINDOW curve AS (PARTITION BY m.run_id, m.key)
),
bucketed AS (
  SELECT
    *,
    -- A short run keeps every step; a long one is cut into $max_points spans (the last step falls in the last).
    CASE WHEN span <= $max_points THEN step ELSE (step - first_step) * $max_points // span END AS bucket
  FROM points
)
SELECT
  model_version,
  run_id,
  finished_at,
  metric,
  max(step) AS step,
  arg_max(ts, (step, ts)) AS ts,
  arg_max(value, (step, ts)) AS value,
  count(*) AS logged
FROM bucketed
GROUP BY model_version, run_id, finished_at, metric, bucket
ORDER BY finished_at, run_id, metric, step
