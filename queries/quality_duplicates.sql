-- quality_duplicates: request_ids logged more than once in [start, end) in one table, whatever the day they
-- were logged on: how many ids repeat, their extra copies, how many repeat on more than one day, and the five
-- most repeated. (quality_predictions.sql counts repeats within each day, cached per day; this one needs the
-- whole window at once.) The repeated ids are found by a bare count per id, the cheapest grouping of
-- millions of ids; only they are then read again for their days.
-- params: $table (view name from the contract, with a request_id column), $time_column (anchored regex naming
--         its time column), $start, $end (timestamps)
-- tables:
-- returns: with_id, repeated_ids, extra_copies, across_days, examples (list of request_ids)
WITH windowed AS (
  SELECT
    request_id,
    COLUMNS($time_column) AS logged
  FROM query_table($table)
  WHERE dt >= CAST($start AS DATE)
    AND dt <= CAST($end AS DATE)
    AND COLUMNS($time_column) >= $start
    AND COLUMNS($time_column) < $end
    AND request_id IS NOT NULL
),
repeated AS (
  SELECT request_id
  FROM windowed
  GROUP BY request_id
  HAVING count(*) > 1
),
copies AS (
  SELECT request_id, count(*) AS copies, min(CAST(logged AS DATE)) < max(CAST(logged AS DATE)) AS across_days
  FROM windowed
  WHERE request_id IN (SELECT request_id FROM repeated)
  GROUP BY request_id
)
SELECT
  (SELECT count(*) FROM windowed) AS with_id,
  count(*) AS repeated_ids,
  CAST(coalesce(sum(copies - 1), 0) AS BIGINT) AS extra_copies,
  count(*) FILTER (WHERE across_days) AS across_days,
  coalesce(list(request_id ORDER BY copies DESC, request_id)[1:5], []) AS examples
FROM copies
