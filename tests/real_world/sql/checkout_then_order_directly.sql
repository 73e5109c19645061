-- a checkout of the last 30 days whose next row among events and orders (the earliest one
-- strictly later, up to as_of) is an order; one order among rows sharing that instant is enough
WITH universe AS (
  SELECT customer_id, signup_at FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
timeline AS (
  SELECT customer_id, occurred_at AS t, 'event' AS src FROM web_events WHERE occurred_at <= $as_of
  UNION ALL
  SELECT customer_id, ordered_at, 'order' FROM orders WHERE ordered_at <= $as_of
),
checkouts AS (
  SELECT customer_id, occurred_at AS t FROM web_events
  WHERE name = 'checkout' AND occurred_at > $as_of - INTERVAL 30 DAY AND occurred_at <= $as_of
),
nexts AS (
  SELECT c.customer_id,
    (SELECT min(x.t) FROM timeline x WHERE x.customer_id = c.customer_id AND x.t > c.t) AS next_at
  FROM checkouts c
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN nexts n USING (customer_id)
WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = n.customer_id AND o.ordered_at = n.next_at)
