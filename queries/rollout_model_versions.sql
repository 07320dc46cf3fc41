-- rollout_model_versions: when each model version first served traffic (its first logged prediction), for the
-- versions whose first prediction falls in [start, end): the rollout markers on the charts over time.
-- A version's first prediction may lie before the window, so every day up to $end is read (the dt condition prunes
-- the later ones); a version that served before $start has no marker in the window, however much it serves in it.
-- The versions that were serving when the log began are no rollouts: their first logged prediction is merely the
-- log's start. A version first seen within the log's first hour cannot be told from them, so it has no marker
-- either. The version filter applies after the log's start is known, so that filtering cannot move it.
-- params: $start, $end (timestamps), $model_versions (list; empty = all)
-- tables: predictions
-- returns: model_version, first_served_at
WITH firsts AS (
  SELECT
    model_version,
    min(ts) AS first_served_at
  FROM predictions
  WHERE dt <= CAST($end - INTERVAL 1 MICROSECOND AS DATE)
    AND ts < $end
    AND model_version IS NOT NULL
  GROUP BY model_version
)
SELECT
  model_version,
  first_served_at
FROM firsts
WHERE first_served_at >= $start
  AND first_served_at > (SELECT min(first_served_at) FROM firsts) + INTERVAL 1 HOUR
  AND (len(CAST($model_versions AS VARCHAR[])) = 0 OR list_contains(CAST($model_versions AS VARCHAR[]), model_version))
ORDER BY first_served_at, model_version
