-- meta_extent: the newest timestamp of one contract table ("data through ...").
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $since (date: the newest dt partition, so only it is read; NULL reads the whole table)
-- tables:
-- returns: last
SELECT
  max(COLUMNS($time_column)) AS last
FROM query_table($table)
WHERE CAST($since AS DATE) IS NULL
  OR dt >= CAST($since AS DATE)
