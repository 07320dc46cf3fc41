-- view_predictions_in: table macro for predictions in [start_ts, end_ts), filtered by symbols and version.
-- Created with the predictions view. The dt condition prunes hive partitions before any file is opened;
-- an empty symbols list and a NULL version mean "all".
-- tables: predictions
CREATE OR REPLACE MACRO predictions_in(start_ts, end_ts, symbols, version) AS TABLE
SELECT *
FROM predictions
WHERE dt >= CAST(start_ts AS DATE)
  -- A window ending at midnight does not touch that day's partition (dayslices.last_day).
  AND dt <= CAST(end_ts - INTERVAL 1 MICROSECOND AS DATE)
  AND ts >= start_ts
  AND ts < end_ts
  AND (len(symbols) = 0 OR list_contains(symbols, symbol))
  AND (version IS NULL OR model_version = version)
