-- market_closes: one symbol's daily closes over [start, end) days.
-- params: $symbol, $start, $end (dates, NULL = unbounded)
-- tables: market
-- returns: ts, close
SELECT ts, close
FROM market
WHERE symbol = $symbol
  AND ($start IS NULL OR ts >= CAST($start AS DATE))
  AND ($end IS NULL OR ts < CAST($end AS DATE))
ORDER BY ts
