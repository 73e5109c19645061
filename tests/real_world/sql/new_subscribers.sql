-- days_since(signup_at) < 14: fewer than 14 whole days between signing up and as_of
SELECT customer_id FROM customers
WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of) AND signup_at > $as_of - INTERVAL 14 DAY
