WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT u.customer_id FROM universe u
WHERE EXISTS (SELECT 1 FROM web_events e WHERE e.customer_id = u.customer_id
                AND e.name IN ('view', 'add_to_cart')
                AND e.occurred_at > $as_of - INTERVAL 90 DAY AND e.occurred_at <= $as_of)
   OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = u.customer_id
                AND o.ordered_at > $as_of - INTERVAL 90 DAY AND o.ordered_at <= $as_of)
