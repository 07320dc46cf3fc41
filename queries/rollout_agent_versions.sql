-- rollout_agent_versions: the day each agent version of the given runs began paper trading (the first day of
-- returns of its paper runs), for the versions whose first day falls in [start, end): the markers on the
-- Backtests curves. A backtest replays history, so it says nothing about when a version came into use, and a
-- run's created_at is when it was made, not a day on the curves' axis.
-- params: $run_ids (list), $start, $end (dates, NULL = unbounded)
-- tables: backtest_runs, backtest_returns
-- returns: agent, agent_version, first_day, run_id (the paper run that traded that day; the first by id on a tie)
WITH versions AS (
  SELECT DISTINCT agent, agent_version
  FROM backtest_runs
  WHERE list_contains(CAST($run_ids AS VARCHAR[]), run_id)
),
paper AS (
  SELECT
    r.agent,
    r.agent_version,
    r.run_id,
    min(d.ts) AS first_day
  FROM backtest_runs AS r
  JOIN versions USING (agent, agent_version)
  JOIN backtest_returns AS d USING (run_id)
  WHERE r.kind = 'paper'
  GROUP BY r.agent, r.agent_version, r.run_id
)
SELECT
  agent,
  agent_version,
  min(first_day) AS first_day,
  arg_min(run_id, (first_day, run_id)) AS run_id
FROM paper
GROUP BY agent, agent_version
HAVING ($start IS NULL OR min(first_day) >= CAST($start AS DATE))
  AND ($end IS NULL OR min(first_day) < CAST($end AS DATE))
ORDER BY first_day, agent, agent_version
