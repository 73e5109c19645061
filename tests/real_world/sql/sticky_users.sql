WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT u.customer_id
FROM universe u JOIN web_events e USING (customer_id)
WHERE e.occurred_at > $as_of - INTERVAL 28 DAY AND e.occurred_at <= $as_of
GROUP BY u.customer_id
HAVING count(DISTINCT CAST(e.occurred_at AS DATE)) >= 10
