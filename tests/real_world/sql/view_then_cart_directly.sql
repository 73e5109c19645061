-- a view of the last 30 days whose next event (the earliest one strictly later, up to as_of)
-- is an add_to_cart; when several events share that next instant, one add_to_cart among them is enough
WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
visible AS (SELECT * FROM web_events WHERE occurred_at <= $as_of),
views AS (
  SELECT customer_id, occurred_at FROM visible
  WHERE name = 'view' AND occurred_at > $as_of - INTERVAL 30 DAY
),
nexts AS (
  SELECT v.customer_id,
    (SELECT min(x.occurred_at) FROM visible x
      WHERE x.customer_id = v.customer_id AND x.occurred_at > v.occurred_at) AS next_at
  FROM views v
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN nexts n USING (customer_id)
WHERE EXISTS (SELECT 1 FROM visible x WHERE x.customer_id = n.customer_id
                AND x.occurred_at = n.next_at AND x.name = 'add_to_cart')
