-- lower median: the ceil(n/2)-th smallest non-null amount of the last 365 days
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
ranked AS (
  SELECT customer_id, amount,
    row_number() OVER (PARTITION BY customer_id ORDER BY amount) AS k,
    count(*) OVER (PARTITION BY customer_id) AS n
  FROM orders
  WHERE ordered_at > $as_of - INTERVAL 365 DAY AND ordered_at <= $as_of AND amount IS NOT NULL
)
SELECT u.customer_id FROM universe u JOIN ranked r USING (customer_id)
WHERE r.k = (r.n + 1) // 2 AND r.amount >= 60
