-- November 1 to December 31 of the calendar year before as_of's
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
)
SELECT DISTINCT u.customer_id
FROM universe u JOIN orders o USING (customer_id)
WHERE o.ordered_at >= make_timestamp(year($as_of) - 1, 11, 1, 0, 0, 0)
  AND o.ordered_at < make_timestamp(year($as_of), 1, 1, 0, 0, 0)
  AND o.ordered_at <= $as_of
