WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT u.customer_id FROM universe u
WHERE u.signup_at <= $as_of - INTERVAL 14 DAY
  AND NOT EXISTS (
    SELECT 1 FROM web_events e
    WHERE e.customer_id = u.customer_id
      AND e.occurred_at > u.signup_at + INTERVAL 7 DAY
      AND e.occurred_at <= u.signup_at + INTERVAL 14 DAY
      AND e.occurred_at <= $as_of)
