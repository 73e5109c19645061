-- every universe customer and the sum of its order amounts up to as_of (0 without any)
WITH universe AS (
  SELECT customer_id FROM customers
  WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT u.customer_id,
  coalesce((SELECT sum(o.amount) FROM orders o
            WHERE o.customer_id = u.customer_id AND o.ordered_at <= $as_of), 0) AS value
FROM universe u
