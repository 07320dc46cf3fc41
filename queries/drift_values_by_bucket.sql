-- drift_values_by_bucket: text predictions columns' counts per value, per time bucket, in one scan.
-- One grouping set per column, as in drift_histograms.sql: set_id = GROUPING_ID(columns) tells whose
-- row it is; the row whose value is NULL counts that column's NULLs. At most 64 columns a call.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- identifiers: columns
-- tables: predictions
-- split: bucket
-- returns: bucket, set_id, <column> per column, n
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  GROUPING_ID({columns}) AS set_id,
  {columns},
  count(*) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket, GROUPING SETS ({columns})
ORDER BY ALL
