-- quality_rows: one time-stamped contract table's rows per time bucket in [start, end), and each bucket's
-- newest timestamp (freshness carries it forward). Split by day: each past day is counted once.
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $start, $end (timestamps), $bucket (seconds)
-- tables:
-- split: bucket
-- returns: bucket, rows, newest
SELECT
  time_bucket(to_seconds($bucket), CAST(COLUMNS($time_column) AS TIMESTAMP)) AS bucket,
  count(*) AS rows,
  max(CAST(COLUMNS($time_column) AS TIMESTAMP)) AS newest
FROM query_table($table)
WHERE dt >= CAST($start AS DATE)
  AND dt <= CAST($end AS DATE)
  AND COLUMNS($time_column) >= $start
  AND COLUMNS($time_column) < $end
GROUP BY ALL
ORDER BY bucket
