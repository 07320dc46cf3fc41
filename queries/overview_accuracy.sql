-- overview_accuracy: accuracy of the window's predictions whose outcome has arrived.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all)
-- tables: predictions, outcomes
-- returns: predictions, with_outcome, correct, accuracy (NULL when no outcome arrived)
WITH joined AS (
  SELECT
    o.true_label IS NOT NULL AS has_outcome,
    o.true_label = p.label AS is_correct
  FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR)) AS p
  -- Outcomes arrive after their prediction, so only partitions from the window's start on can match.
  LEFT JOIN (
    SELECT
      request_id,
      true_label
    FROM outcomes
    WHERE dt >= CAST($start AS DATE)
  ) AS o
    ON o.request_id = p.request_id
)
SELECT
  count(*) AS predictions,
  count(*) FILTER (WHERE has_outcome) AS with_outcome,
  count(*) FILTER (WHERE is_correct) AS correct,
  CAST(count(*) FILTER (WHERE is_correct) AS DOUBLE) / nullif(count(*) FILTER (WHERE has_outcome), 0) AS accuracy
FROM joined
