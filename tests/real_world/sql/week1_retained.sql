WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN web_events e USING (customer_id)
WHERE e.name <> 'signup'
  AND e.occurred_at > u.signup_at + INTERVAL 7 DAY
  AND e.occurred_at <= u.signup_at + INTERVAL 14 DAY
  AND e.occurred_at <= $as_of
