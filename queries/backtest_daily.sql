-- backtest_daily: the given runs' daily rows in [start, end), as logged: dashapp/backtest/series.py
-- cleans them (duplicates, non-finite values, gaps) and says what it did.
-- params: $run_ids (list), $start, $end (dates, NULL = unbounded)
-- tables: backtest_returns
-- returns: run_id, ts, strategy_return, benchmark_return, exposure
SELECT run_id, ts, strategy_return, benchmark_return, exposure
FROM backtest_returns
WHERE list_contains(CAST($run_ids AS VARCHAR[]), run_id)
  AND ($start IS NULL OR ts >= CAST($start AS DATE))
  AND ($end IS NULL OR ts < CAST($end AS DATE))
ORDER BY run_id, ts
