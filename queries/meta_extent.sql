-- meta_extent: first and last timestamp and row count of one contract table ("data through ...").
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column)
-- tables:
-- returns: first, last, rows
SELECT
  min(COLUMNS($time_column)) AS first,
  max(COLUMNS($time_column)) AS last,
  count(*) AS rows
FROM query_table($table)
