-- meta_filter_options: the symbols and model versions seen in predictions, for the filter bar.
-- params: none
-- tables: predictions
-- returns: kind ('symbol' | 'model_version'), value
WITH pairs AS (
  -- One pass over two low-cardinality columns; the two lists come from its few rows.
  SELECT DISTINCT
    symbol,
    model_version
  FROM predictions
)
SELECT DISTINCT
  'symbol' AS kind,
  symbol AS value
FROM pairs
UNION ALL
SELECT DISTINCT
  'model_version' AS kind,
  model_version AS value
FROM pairs
ORDER BY kind, value
