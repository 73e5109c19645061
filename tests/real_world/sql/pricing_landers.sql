-- Sessions: a customer's events up to as_of in time order; an event more than 30 minutes after
-- the previous one starts a new session (exactly 30 minutes apart: the same session).
WITH universe AS (
  SELECT customer_id FROM customers WHERE consent_marketing AND (signup_at IS NULL OR signup_at <= $as_of)
),
visible AS (SELECT * FROM web_events WHERE occurred_at <= $as_of),
marked AS (
  SELECT *, CASE WHEN lag(occurred_at) OVER w IS NULL
                   OR occurred_at > lag(occurred_at) OVER w + INTERVAL 30 MINUTE
                 THEN 1 ELSE 0 END AS starts
  FROM visible WINDOW w AS (PARTITION BY customer_id ORDER BY occurred_at)
),
numbered AS (
  SELECT *, sum(starts) OVER (PARTITION BY customer_id ORDER BY occurred_at
                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
sessions AS (
  SELECT customer_id, session_no, min(occurred_at) AS started_at, max(occurred_at) AS ended_at,
    epoch(max(occurred_at) - min(occurred_at)) AS duration_s, count(*) AS n_rows
  FROM numbered GROUP BY customer_id, session_no
),
-- the landing page: the name at the session's first instant (the smallest non-null one on a tie)
landing AS (
  SELECT s.customer_id, s.started_at,
    (SELECT min(n.name) FROM numbered n WHERE n.customer_id = s.customer_id
       AND n.session_no = s.session_no AND n.occurred_at = s.started_at) AS first_name
  FROM sessions s
)
SELECT DISTINCT u.customer_id FROM universe u JOIN landing l USING (customer_id)
WHERE l.started_at > $as_of - INTERVAL 30 DAY AND l.first_name = 'pricing_view'
