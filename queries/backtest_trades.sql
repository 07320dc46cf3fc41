-- backtest_trades: one run's trades in one symbol over [start, end) days, with the position they leave.
-- position is the running sum of bought minus sold quantity over the run's whole log (a run starts flat),
-- so a period that begins mid-run still shows the position held.
-- params: $run_id, $symbol, $start, $end (dates, NULL = unbounded)
-- tables: trades
-- returns: ts, action, quantity, price, position
SELECT ts, action, quantity, price, position
FROM (
  SELECT
    ts,
    action,
    quantity,
    price,
    sum(CASE action WHEN 'buy' THEN quantity WHEN 'sell' THEN -quantity ELSE 0 END)
      OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS position
  FROM trades
  WHERE run_id = $run_id AND symbol = $symbol
)
WHERE ($start IS NULL OR ts >= CAST($start AS DATE))
  AND ($end IS NULL OR ts < CAST($end AS DATE))
ORDER BY ts
