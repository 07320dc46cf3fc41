-- overview_accuracy: per prediction day, outcome partition and model version: predictions with an outcome, and how many were right.
-- Split by day (dayslices.py): a day's outcomes land in its own or later dt partitions, so each
-- (day, outcome partition) pair is computed once; new outcomes cost one join against their partition.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $later_from, $later_to (dates: the outcome partitions to join, bound by the splitter)
-- tables: predictions, outcomes
-- split: day
-- later: outcomes
-- returns: day, later_day (outcome partition), model_version, with_outcome, correct
SELECT
  CAST(p.ts AS DATE) AS day,
  o.dt AS later_day,
  p.model_version,
  count(*) AS with_outcome,
  count(*) FILTER (WHERE o.true_label = p.label) AS correct
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR)) AS p
JOIN outcomes AS o
  ON o.request_id = p.request_id
-- Outcomes arrive after their prediction: one filed in a partition before the prediction's day is not its outcome.
WHERE o.dt >= CAST(p.ts AS DATE)
  AND o.dt BETWEEN $later_from AND $later_to
GROUP BY day, later_day, p.model_version
ORDER BY day, later_day, p.model_version
