WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN orders o USING (customer_id)
WHERE o.ordered_at > u.signup_at
  AND o.ordered_at <= u.signup_at + INTERVAL 7 DAY
  AND o.ordered_at <= $as_of
