-- view_correlation_grid: table macro for the Correlation page's daily grid, one row per day and symbol in
-- [start_ts, end_ts) that had news: mean sentiment and news items (predictions_in's symbol and version
-- filters), the close-to-close return of that day and of the symbol's next trading day (market), and the
-- agent's net action that day, buys minus sells in the trades of run `run` (NULL when run is NULL).
-- A day without a market row has NULL returns; the first market day of a symbol has no same-day return.
-- Created with the views it reads.
-- tables: predictions, market, trades
CREATE OR REPLACE MACRO correlation_grid(start_ts, end_ts, symbols, version, run) AS TABLE
WITH news AS (
  SELECT CAST(ts AS DATE) AS day, symbol, avg(sentiment_score) AS sentiment, count(*) AS news
  FROM predictions_in(start_ts, end_ts, symbols, version)
  GROUP BY ALL
),
returns AS (
  SELECT
    ts AS day,
    symbol,
    close / lag(close) OVER (PARTITION BY symbol ORDER BY ts) - 1 AS return_same
  FROM market
),
paired AS (
  SELECT day, symbol, return_same, lead(return_same) OVER (PARTITION BY symbol ORDER BY day) AS return_next
  FROM returns
),
actions AS (
  SELECT
    CAST(ts AS DATE) AS day,
    symbol,
    sum(CASE action WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 ELSE 0 END) AS net_action
  FROM trades
  WHERE run_id = run
  GROUP BY ALL
)
SELECT
  n.day,
  n.symbol,
  n.sentiment,
  n.news,
  p.return_same,
  p.return_next,
  CASE WHEN run IS NOT NULL THEN coalesce(a.net_action, 0) END AS net_action
FROM news AS n
LEFT JOIN paired AS p USING (day, symbol)
LEFT JOIN actions AS a USING (day, symbol)
