WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT u.customer_id
FROM universe u JOIN orders o USING (customer_id)
WHERE o.ordered_at <= $as_of
GROUP BY u.customer_id
HAVING sum(o.amount) >= 1000
