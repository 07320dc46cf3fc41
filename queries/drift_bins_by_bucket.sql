-- drift_bins_by_bucket: one numeric predictions column's counts per PSI bin, per time bucket.
-- Bins are right-closed on the given edges, (-inf, e1], (e1, e2], ..., (ek, +inf), as histogram() assigns
-- a value to the first bound >= it; NULLs are left out.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all),
--         $edges (sorted distinct DOUBLEs)
-- identifiers: column (a list of one name)
-- tables: predictions
-- split: bucket
-- returns: bucket, bins (counts, one per bin), n (non-NULL values)
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  map_values(histogram(CAST({column} AS DOUBLE), CAST($edges AS DOUBLE[]))) AS bins,
  count({column}) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket
ORDER BY bucket
