-- meta_filter_options: the symbols and model versions seen in predictions, for the filter bar.
-- params: none
-- tables: predictions
-- returns: kind ('symbol' | 'model_version'), value, rows, last_seen
SELECT
  'symbol' AS kind,
  symbol AS value,
  count(*) AS rows,
  max(ts) AS last_seen
FROM predictions
GROUP BY symbol
UNION ALL
SELECT
  'model_version' AS kind,
  model_version AS value,
  count(*) AS rows,
  max(ts) AS last_seen
FROM predictions
GROUP BY model_version
ORDER BY kind, value
