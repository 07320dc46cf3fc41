-- meta_extent: the oldest and newest timestamps of one contract table ("data through ...").
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $since, $until (dates: read only the dt partitions from $since on, or up to $until; NULL = no bound)
-- tables:
-- returns: first, last
SELECT
  min(COLUMNS($time_column)) AS first,
  max(COLUMNS($time_column)) AS last
FROM query_table($table)
WHERE (CAST($since AS DATE) IS NULL OR dt >= CAST($since AS DATE))
  AND (CAST($until AS DATE) IS NULL OR dt <= CAST($until AS DATE))
