-- rollout_training_runs: the training runs that ended in [start, end), for the markers on the charts over time.
-- A run's end is training_runs.finished_at, the contract's own column for it (a run's metric log may be absent).
-- params: $start, $end (timestamps), $model_versions (list of the versions the runs produced; empty = all)
-- tables: training_runs
-- returns: run_id, model_version, finished_at
SELECT
  run_id,
  model_version,
  finished_at
FROM training_runs
WHERE finished_at >= $start
  AND finished_at < $end
  AND (len(CAST($model_versions AS VARCHAR[])) = 0 OR list_contains(CAST($model_versions AS VARCHAR[]), model_version))
ORDER BY finished_at, run_id
