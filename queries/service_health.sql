-- service_health: each service over [start, end): its instances, how many were up at their newest sample,
-- failed health checks, when the last one failed, and the checks' round trip (exact median and p95).
-- params: $start, $end (timestamps)
-- tables: service_metrics
-- returns: service, instances, instances_up, samples, down_samples, last_down, last_seen, probe_p50_ms,
--          probe_p95_ms
WITH windowed AS (
  SELECT *
  FROM service_metrics
  WHERE dt >= CAST($start AS DATE)
    AND dt <= CAST($end - INTERVAL 1 MICROSECOND AS DATE)
    AND ts >= $start
    AND ts < $end
),
instances AS (
  SELECT
    service,
    instance,
    count(*) AS samples,
    count(*) FILTER (WHERE up = 0) AS down_samples,
    arg_max(up, ts) AS up_now,
    max(ts) FILTER (WHERE up = 0) AS last_down,
    max(ts) AS last_seen
  FROM windowed
  GROUP BY service, instance
),
probes AS (
  SELECT
    service,
    quantile_cont(probe_ms, [0.5, 0.95]) AS levels
  FROM windowed
  GROUP BY service
)
SELECT
  service,
  count(*) AS instances,
  count(*) FILTER (WHERE up_now > 0) AS instances_up,
  sum(samples) AS samples,
  sum(down_samples) AS down_samples,
  max(last_down) AS last_down,
  max(last_seen) AS last_seen,
  any_value(levels[1]) AS probe_p50_ms,
  any_value(levels[2]) AS probe_p95_ms
FROM instances
JOIN probes USING (service)
GROUP BY service
ORDER BY service
