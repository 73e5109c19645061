-- the most ordered SKU (non-null), ties to the smallest
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
counts AS (
  SELECT customer_id, sku, count(*) AS n FROM orders
  WHERE ordered_at <= $as_of AND sku IS NOT NULL
  GROUP BY customer_id, sku
),
favourite AS (
  SELECT customer_id, sku FROM (
    SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, sku) AS pick
    FROM counts)
  WHERE pick = 1
)
SELECT u.customer_id FROM universe u JOIN favourite f USING (customer_id)
WHERE f.sku IN ('SKU-0001', 'SKU-0002', 'SKU-0003')
