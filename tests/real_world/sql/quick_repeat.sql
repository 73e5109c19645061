-- another order strictly after the first one and at most 30 days after it
WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
firsts AS (
  SELECT customer_id, min(ordered_at) AS first_at FROM orders
  WHERE ordered_at <= $as_of GROUP BY customer_id
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN firsts f USING (customer_id) JOIN orders o USING (customer_id)
WHERE o.ordered_at > f.first_at
  AND o.ordered_at <= f.first_at + INTERVAL 30 DAY
  AND o.ordered_at <= $as_of
