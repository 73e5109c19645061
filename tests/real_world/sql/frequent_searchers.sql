-- at least 3 searches whose first and last are at most 7 days apart
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN web_events s1 USING (customer_id)
WHERE s1.name = 'search' AND s1.occurred_at <= $as_of
  AND (SELECT count(*) FROM web_events s2
       WHERE s2.customer_id = s1.customer_id AND s2.name = 'search'
         AND s2.occurred_at >= s1.occurred_at
         AND s2.occurred_at <= s1.occurred_at + INTERVAL 7 DAY
         AND s2.occurred_at <= $as_of) >= 3
