-- overview_accuracy: accuracy of predictions whose outcome has arrived, now and in the previous window.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all)
-- tables: predictions, outcomes
-- returns: period, predictions, with_outcome, correct, accuracy (NULL when no outcome arrived)
WITH scored AS (
  SELECT
    p.request_id,
    CASE WHEN p.ts >= $start THEN 'current' ELSE 'previous' END AS period,
    p.label
  FROM predictions_in(
    $start - ($end - $start), $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR)
  ) AS p
),
joined AS (
  SELECT
    s.period,
    o.true_label IS NOT NULL AS has_outcome,
    o.true_label = s.label AS is_correct
  FROM scored AS s
  -- Outcomes arrive after their prediction, so only partitions from the window's start on can match.
  LEFT JOIN (
    SELECT request_id, true_label
    FROM outcomes
    WHERE dt >= CAST($start - ($end - $start) AS DATE)
  ) AS o
    ON o.request_id = s.request_id
)
SELECT
  period,
  count(*) AS predictions,
  count(*) FILTER (WHERE has_outcome) AS with_outcome,
  count(*) FILTER (WHERE is_correct) AS correct,
  CAST(count(*) FILTER (WHERE is_correct) AS DOUBLE) / nullif(count(*) FILTER (WHERE has_outcome), 0) AS accuracy
FROM joined
GROUP BY period
ORDER BY period
