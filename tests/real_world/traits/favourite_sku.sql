-- every universe customer and its most ordered SKU (ties to the smallest; null without one)
WITH universe AS (
  SELECT customer_id FROM customers
  WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
counts AS (
  SELECT customer_id, sku, count(*) AS n FROM orders
  WHERE ordered_at <= $as_of AND sku IS NOT NULL GROUP BY customer_id, sku
)
SELECT u.customer_id,
  (SELECT c.sku FROM counts c WHERE c.customer_id = u.customer_id
   ORDER BY c.n DESC, c.sku LIMIT 1) AS value
FROM universe u
