-- quality_completeness_by_bucket: quality_completeness.sql per time bucket: one time-stamped contract table's
-- rows in each bucket of [start, end) and, per column, how many hold a value (count(COLUMNS(*)), named after
-- the column); dt is the partition key.
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $start, $end (timestamps), $bucket (seconds)
-- tables:
-- split: bucket
-- returns: bucket, rows, then one count per column of the table's view
SELECT
  time_bucket(to_seconds($bucket), CAST(COLUMNS($time_column) AS TIMESTAMP)) AS bucket,
  count(*) AS rows,
  count(COLUMNS(* EXCLUDE (dt)))
FROM query_table($table)
WHERE dt >= CAST($start AS DATE)
  AND dt <= CAST($end AS DATE)
  AND COLUMNS($time_column) >= $start
  AND COLUMNS($time_column) < $end
GROUP BY bucket
ORDER BY bucket
