WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN web_events s USING (customer_id)
WHERE s.name = 'search'
  AND s.occurred_at > $as_of - INTERVAL 90 DAY AND s.occurred_at <= $as_of
  AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = s.customer_id
                AND o.ordered_at > s.occurred_at AND o.ordered_at <= $as_of)
