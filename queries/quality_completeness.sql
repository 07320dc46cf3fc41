-- quality_completeness: one time-stamped contract table's rows in [start, end) and, per column, how many hold
-- a value. count(COLUMNS(*)) gives one count per column, named count(<column>); dt is the partition key.
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $start, $end (timestamps)
-- tables:
-- returns: rows, then count(<column>) per column of the table's view
SELECT
  count(*) AS rows,
  count(COLUMNS(* EXCLUDE (dt)))
FROM query_table($table)
WHERE dt >= CAST($start AS DATE)
  AND dt <= CAST($end AS DATE)
  AND COLUMNS($time_column) >= $start
  AND COLUMNS($time_column) < $end
