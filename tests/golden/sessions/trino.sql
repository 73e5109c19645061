WITH "sessions_sessions" AS (
  SELECT
    "k" AS "customer_id",
    MIN("t") AS "time",
    MAX("t") AS "ended_at",
    CAST(MAX("us") - MIN("us") AS DOUBLE) / 1000000 AS "duration_s",
    COUNT(*) AS "rows",
    MIN(CASE WHEN "t" = "t0" THEN "v0" END) AS "first_name",
    MAX(CASE WHEN "t" = "t1" THEN "v1" END) AS "last_name"
  FROM (
    SELECT
      "k",
      "t",
      "us",
      "v0",
      "v1",
      "session",
      MIN("t") OVER (PARTITION BY "k", "session") AS "t0",
      MAX("t") OVER (PARTITION BY "k", "session") AS "t1"
    FROM (
      SELECT
        "k",
        "t",
        "us",
        "v0",
        "v1",
        SUM("starts") OVER (
          PARTITION BY "k"
          ORDER BY "us" ASC NULLS FIRST
          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS "session"
      FROM (
        SELECT
          "k",
          "t",
          "us",
          "v0",
          "v1",
          CASE
            WHEN "us" - LAG("us") OVER (PARTITION BY "k" ORDER BY "us" ASC NULLS FIRST) <= 1800000000
            THEN 0
            ELSE 1
          END AS "starts"
        FROM (
          SELECT
            "customer_id" AS "k",
            "occurred_at" AS "t",
            CAST(ROUND(TO_UNIXTIME("occurred_at") * 1000000) AS BIGINT) AS "us",
            "name" AS "v0",
            "name" AS "v1"
          FROM "web_events"
          WHERE
            NOT "customer_id" IS NULL
            AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
            AND "occurred_at" >= CAST('2025-04-01 23:30:00' AS TIMESTAMP)
        ) AS "parent_rows"
      ) AS "marked_rows"
    ) AS "session_rows"
  ) AS "sessions"
  GROUP BY
    "k",
    "session"
), "universe" AS (
  SELECT
    "customer_id" AS "customer_id",
    "consent_marketing" AS "consent_marketing"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL
    AND (
      "signup_at" IS NULL OR "signup_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    )
    AND "consent_marketing" = TRUE
), "src_sessions" AS (
  SELECT
    "customer_id" AS "customer_id",
    COUNT(
      CASE
        WHEN "time" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) AND "rows" >= 2
        THEN 1
      END
    ) AS "sessions_count_where_rows_last_90_days", /* used by engaged_visitors (sessions.seg:6) */
    COUNT(
      CASE
        WHEN "time" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        AND "first_name" = 'pricing_view'
        THEN 1
      END
    ) AS "sessions_count_where_first_name_pricing", /* used by pricing_landers (sessions.seg:9) */
    MAX(
      CASE WHEN "time" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN "duration_s" END
    ) AS "sessions_max_duration_s_last_90_days", /* used by longest_visit_s (sessions.seg:13) */
    COUNT(CASE WHEN "time" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN 1 END) AS "sessions_count_last_90_days", /* used by bouncers (sessions.seg:18) */
    COUNT(
      CASE
        WHEN "time" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) AND "rows" > 1
        THEN 1
      END
    ) AS "sessions_count_where_rows_last_90_days_2" /* used by bouncers (sessions.seg:18) */
  FROM "sessions_sessions"
  WHERE
    NOT "customer_id" IS NULL
    AND "time" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND "time" >= CAST('2025-04-02 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "windowed_did_sessions_view_then_orders_in_1_day__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    CAST(ROUND(TO_UNIXTIME("time") * 1000000) AS BIGINT) AS "us",
    (
      1751328000000000 - CAST(ROUND(TO_UNIXTIME("time") * 1000000) AS BIGINT)
    ) / 86400000000 AS "g"
  FROM "sessions_sessions"
  WHERE
    NOT "customer_id" IS NULL
    AND "time" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND "last_name" = 'view'
    AND "time" > CAST('2025-04-02 00:00:00' AS TIMESTAMP)
), "windowed_did_sessions_view_then_orders_in_1_day__then" AS (
  SELECT
    "customer_id",
    "g",
    MIN("us") AS "lo",
    MAX("us") AS "hi"
  FROM (
    SELECT
      "customer_id" AS "customer_id",
      CAST(ROUND(TO_UNIXTIME("ordered_at") * 1000000) AS BIGINT) AS "us",
      (
        1751328000000000 - CAST(ROUND(TO_UNIXTIME("ordered_at") * 1000000) AS BIGINT)
      ) / 86400000000 AS "g"
    FROM "orders"
    WHERE
      NOT "customer_id" IS NULL
      AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
      AND "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP)
  ) AS "then_rows"
  GROUP BY
    "customer_id",
    "g"
), "windowed_did_sessions_view_then_orders_in_1_day" AS (
  SELECT
    "first"."customer_id",
    MAX(
      CASE
        WHEN "same"."hi" > "first"."us" OR "later"."lo" <= "first"."us" + 86400000000
        THEN 1
        ELSE 0
      END
    ) AS "did_sessions_view_then_orders_in_1_day" /* used by visit_then_order (sessions.seg:22) */
  FROM "windowed_did_sessions_view_then_orders_in_1_day__rows" AS "first"
  LEFT JOIN "windowed_did_sessions_view_then_orders_in_1_day__then" AS "same"
    ON "same"."customer_id" = "first"."customer_id" AND "same"."g" = "first"."g"
  LEFT JOIN "windowed_did_sessions_view_then_orders_in_1_day__then" AS "later"
    ON "later"."customer_id" = "first"."customer_id" AND "later"."g" = "first"."g" - 1
  GROUP BY
    "first"."customer_id"
), "base" AS (
  SELECT
    "universe"."customer_id",
    "universe"."consent_marketing",
    COALESCE("src_sessions"."sessions_count_where_rows_last_90_days", 0) AS "sessions_count_where_rows_last_90_days",
    COALESCE("src_sessions"."sessions_count_where_first_name_pricing", 0) AS "sessions_count_where_first_name_pricing",
    "src_sessions"."sessions_max_duration_s_last_90_days" AS "sessions_max_duration_s_last_90_days",
    COALESCE("src_sessions"."sessions_count_last_90_days", 0) AS "sessions_count_last_90_days",
    COALESCE("src_sessions"."sessions_count_where_rows_last_90_days_2", 0) AS "sessions_count_where_rows_last_90_days_2",
    COALESCE(
      "windowed_did_sessions_view_then_orders_in_1_day"."did_sessions_view_then_orders_in_1_day",
      0
    ) AS "did_sessions_view_then_orders_in_1_day"
  FROM "universe"
  LEFT JOIN "src_sessions"
    ON "universe"."customer_id" = "src_sessions"."customer_id"
  LEFT JOIN "windowed_did_sessions_view_then_orders_in_1_day"
    ON "universe"."customer_id" = "windowed_did_sessions_view_then_orders_in_1_day"."customer_id"
), "layer_1" AS (
  SELECT
    *,
    "sessions_count_where_rows_last_90_days" > 0 AS "engaged_visitors",
    "sessions_count_where_first_name_pricing" > 0 AS "pricing_landers",
    "sessions_max_duration_s_last_90_days" AS "longest_visit_s",
    COALESCE("sessions_count_last_90_days" >= 10, FALSE)
    AND NOT (
      "sessions_count_where_rows_last_90_days_2" > 0
    ) AS "bouncers",
    "did_sessions_view_then_orders_in_1_day" > 0 AS "visit_then_order"
  FROM "base"
), "layer_2" AS (
  SELECT
    *,
    COALESCE("longest_visit_s" > 600, FALSE) AS "long_visits"
  FROM "layer_1"
)
SELECT
  "customer_id" AS "customer_id",
  "engaged_visitors" AS "engaged_visitors", /* segment engaged_visitors (sessions.seg:6) */
  "pricing_landers" AS "pricing_landers", /* segment pricing_landers (sessions.seg:9) */
  "long_visits" AS "long_visits", /* segment long_visits (sessions.seg:14) */
  "bouncers" AS "bouncers", /* segment bouncers (sessions.seg:17) */
  "visit_then_order" AS "visit_then_order" /* segment visit_then_order (sessions.seg:21) */
FROM "layer_2"
ORDER BY
  "customer_id"
