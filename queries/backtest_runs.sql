-- backtest_runs: every run with the span of its daily returns, newest first (the run picker's list).
-- A run without returns is listed with NULL span and 0 days.
-- tables: backtest_runs, backtest_returns
-- returns: run_id, agent, agent_version, kind, created_at, params, first_day, last_day, days
SELECT
  r.run_id,
  r.agent,
  r.agent_version,
  r.kind,
  r.created_at,
  r.params,
  s.first_day,
  s.last_day,
  coalesce(s.days, 0) AS days
FROM backtest_runs AS r
LEFT JOIN (
  SELECT run_id, min(ts) AS first_day, max(ts) AS last_day, count(*) AS days
  FROM backtest_returns
  GROUP BY run_id
) AS s USING (run_id)
ORDER BY r.created_at DESC, r.run_id
