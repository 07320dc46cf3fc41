-- drift_values: one predictions column's distinct values and their counts in the window (NULL is one value).
-- The column is checked against the view's real columns first (drift/engine.py) and bound as an
-- anchored regex, so COLUMNS() selects it and nothing is formatted into the SQL.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $column (regex ^name$)
-- tables: predictions
-- returns: value, n
SELECT
  COLUMNS($column) AS value,
  count(*) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY 1
ORDER BY 1 NULLS LAST
