WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN web_events c USING (customer_id)
JOIN web_events k ON k.customer_id = c.customer_id
WHERE c.name = 'add_to_cart'
  AND c.occurred_at > $as_of - INTERVAL 30 DAY AND c.occurred_at <= $as_of
  AND k.name = 'checkout' AND k.occurred_at > c.occurred_at AND k.occurred_at <= $as_of
  AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                AND o.ordered_at > k.occurred_at AND o.ordered_at <= $as_of)
