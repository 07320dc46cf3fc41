-- drift_bins_by_bucket: numeric predictions columns' counts per PSI bin, per time bucket, in one scan.
-- Bins are right-closed on each column's edges, (-inf, e1], (e1, e2], ..., (ek, +inf), as histogram()
-- assigns a value to the first bound >= it; NULLs are left out (a bucket without values: NULL).
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all),
--         $edges (per column, in order: its sorted distinct DOUBLE edges)
-- identifiers: columns (numeric columns)
-- tables: predictions
-- split: bucket
-- returns: bucket, then per column its bin counts (a list, one per bin), named after the column
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  {columns: map_values(histogram(CAST(@ AS DOUBLE), CAST($edges AS DOUBLE[][])[#])) AS @}
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket
ORDER BY bucket
