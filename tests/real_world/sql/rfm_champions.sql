-- Quintile scores over the universe: score = ceil(5 * (entities with a value <= mine) / (entities
-- with a value)); recency in whole days since the last order (buyers only), frequency and
-- monetary over the last 365 days (0 without orders). R is 6 - the recency score.
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
visible AS (
  SELECT * FROM orders WHERE ordered_at <= $as_of
),
raw AS (
  SELECT u.customer_id,
    (SELECT floor(epoch($as_of - max(o.ordered_at)) / 86400) FROM visible o
      WHERE o.customer_id = u.customer_id) AS recency_days,
    (SELECT count(*) FROM visible o WHERE o.customer_id = u.customer_id
      AND o.ordered_at > $as_of - INTERVAL 365 DAY) AS freq,
    (SELECT coalesce(sum(o.amount), 0) FROM visible o WHERE o.customer_id = u.customer_id
      AND o.ordered_at > $as_of - INTERVAL 365 DAY) AS money
  FROM universe u
),
scored AS (
  SELECT customer_id,
    CASE WHEN recency_days IS NOT NULL THEN
      (5 * (SELECT count(*) FROM raw r2 WHERE r2.recency_days <= r.recency_days)
        + (SELECT count(recency_days) FROM raw) - 1) // (SELECT count(recency_days) FROM raw)
    END AS r_score,
    (5 * (SELECT count(*) FROM raw r2 WHERE r2.freq <= r.freq) + (SELECT count(*) FROM raw) - 1)
      // (SELECT count(*) FROM raw) AS f_score,
    (5 * (SELECT count(*) FROM raw r2 WHERE r2.money <= r.money) + (SELECT count(*) FROM raw) - 1)
      // (SELECT count(*) FROM raw) AS m_score
  FROM raw r
)
SELECT customer_id FROM scored
WHERE 6 - r_score >= 4 AND f_score >= 4 AND m_score >= 4
