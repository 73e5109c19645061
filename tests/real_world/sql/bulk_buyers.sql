-- the ceil(0.75 n)-th smallest quantity
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
ranked AS (
  SELECT customer_id, quantity,
    row_number() OVER (PARTITION BY customer_id ORDER BY quantity) AS k,
    count(*) OVER (PARTITION BY customer_id) AS n
  FROM orders
  WHERE ordered_at <= $as_of AND quantity IS NOT NULL
)
SELECT u.customer_id FROM universe u JOIN ranked r USING (customer_id)
WHERE r.k = (3 * r.n + 3) // 4 AND r.quantity >= 3
