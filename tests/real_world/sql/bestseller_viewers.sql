WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN web_events e USING (customer_id)
WHERE e.name = 'view' AND left(e.sku, 7) = 'SKU-000'
  AND e.occurred_at > $as_of - INTERVAL 30 DAY AND e.occurred_at <= $as_of
