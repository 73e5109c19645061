WITH "anchor_universe" AS (
  SELECT
    "customer_id" AS "customer_id",
    "signup_at" AS "signup_at",
    "consent_marketing" AS "consent_marketing"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL
    AND (
      "signup_at" IS NULL OR "signup_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    )
    AND "consent_marketing" = TRUE
), "anchor_src_orders" AS (
  SELECT
    "customer_id" AS "customer_id",
    MIN("ordered_at") AS "orders_first_ordered_at" /* used by first_order_at (retention.seg:8) */
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
  GROUP BY
    "customer_id"
), "anchor_base" AS (
  SELECT
    "anchor_universe"."customer_id",
    "anchor_universe"."signup_at",
    "anchor_universe"."consent_marketing",
    "anchor_src_orders"."orders_first_ordered_at" AS "orders_first_ordered_at"
  FROM "anchor_universe"
  LEFT JOIN "anchor_src_orders"
    ON "anchor_universe"."customer_id" = "anchor_src_orders"."customer_id"
), "anchor_layer_1" AS (
  SELECT
    *,
    "orders_first_ordered_at" AS "first_order_at",
    "signup_at" AS "segql_anchor_signup_at"
  FROM "anchor_base"
), "anchor_layer_2" AS (
  SELECT
    *,
    "first_order_at" AS "segql_anchor_first_order_at"
  FROM "anchor_layer_1"
), "anchors" AS (
  SELECT
    "customer_id" AS "segql_anchor_key",
    "segql_anchor_signup_at" AS "segql_anchor_signup_at",
    "segql_anchor_first_order_at" AS "segql_anchor_first_order_at"
  FROM "anchor_layer_2"
), "universe" AS (
  SELECT
    "customer_id" AS "customer_id",
    "signup_at" AS "signup_at",
    "consent_marketing" AS "consent_marketing"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL
    AND (
      "signup_at" IS NULL OR "signup_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    )
    AND "consent_marketing" = TRUE
), "src_orders" AS (
  SELECT
    "customer_id" AS "customer_id",
    COUNT(
      CASE
        WHEN "ordered_at" > "segql_anchor_signup_at"
        AND "ordered_at" <= DATEADD(DAY, 7, "segql_anchor_signup_at")
        THEN 1
      END
    ) AS "orders_count_first_7_days_after_signup", /* used by activated_week1 (retention.seg:11) */
    COUNT(
      CASE
        WHEN "ordered_at" > "segql_anchor_first_order_at"
        AND "ordered_at" <= DATEADD(DAY, 30, "segql_anchor_first_order_at")
        THEN 1
      END
    ) AS "orders_count_first_30_days_after_first", /* used by quick_repeaters (retention.seg:24) */
    SUM(
      CASE
        WHEN "ordered_at" > "segql_anchor_first_order_at"
        AND "ordered_at" <= DATEADD(DAY, 90, "segql_anchor_first_order_at")
        THEN "amount"
      END
    ) AS "orders_sum_amount_first_90_days_after" /* used by first_quarter_spend (retention.seg:27) */
  FROM "orders"
  LEFT JOIN "anchors"
    ON "customer_id" = "segql_anchor_key"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      (
        "ordered_at" > "segql_anchor_signup_at"
        AND "ordered_at" <= DATEADD(DAY, 7, "segql_anchor_signup_at")
      )
      OR (
        "ordered_at" > "segql_anchor_first_order_at"
        AND "ordered_at" <= DATEADD(DAY, 30, "segql_anchor_first_order_at")
      )
      OR (
        "ordered_at" > "segql_anchor_first_order_at"
        AND "ordered_at" <= DATEADD(DAY, 90, "segql_anchor_first_order_at")
      )
    )
  GROUP BY
    "customer_id"
), "src_events" AS (
  SELECT
    "customer_id" AS "customer_id",
    COUNT(
      CASE
        WHEN "occurred_at" > DATEADD(DAY, 7, "segql_anchor_signup_at")
        AND "occurred_at" <= DATEADD(DAY, 14, "segql_anchor_signup_at")
        THEN 1
      END
    ) AS "events_count_7_days_to_14_days_after", /* used by returned_week2 (retention.seg:14), lost_week2 (retention.seg:20) */
    COUNT(
      CASE
        WHEN "occurred_at" > "segql_anchor_signup_at"
        AND "occurred_at" <= DATEADD(DAY, 7, "segql_anchor_signup_at")
        THEN 1
      END
    ) AS "events_count_first_7_days_after_signup" /* used by lost_week2 (retention.seg:18) */
  FROM "web_events"
  LEFT JOIN "anchors"
    ON "customer_id" = "segql_anchor_key"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      (
        "occurred_at" > DATEADD(DAY, 7, "segql_anchor_signup_at")
        AND "occurred_at" <= DATEADD(DAY, 14, "segql_anchor_signup_at")
      )
      OR (
        "occurred_at" > "segql_anchor_signup_at"
        AND "occurred_at" <= DATEADD(DAY, 7, "segql_anchor_signup_at")
      )
    )
  GROUP BY
    "customer_id"
), "windowed_did_events_view_then_orders_last_90_days__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us",
    CASE
      WHEN "name" = 'view' AND "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s1",
    0 AS "s2"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      "name" = 'view' AND "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
    )
  UNION ALL
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "ordered_at") AS "us",
    0 AS "s1",
    CASE
      WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s2"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
    )
), "windowed_did_events_view_then_orders_last_90_days" AS (
  SELECT
    "customer_id",
    CASE
      WHEN MIN(
        CASE
          WHEN "s1" = 1
          AND "us" > DATE_PART(EPOCH_MICROSECOND, CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ))
          THEN "us"
        END
      ) < MAX(CASE WHEN "s2" = 1 THEN "us" END)
      THEN 1
      ELSE 0
    END AS "did_events_view_then_orders_last_90_days" /* used by viewers_who_bought (retention.seg:33) */
  FROM "windowed_did_events_view_then_orders_last_90_days__rows"
  GROUP BY
    "customer_id"
), "windowed_did_events_add_to_cart_then_directly__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us",
    CASE
      WHEN "name" = 'add_to_cart'
      AND "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s1",
    0 AS "s2"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
  UNION ALL
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "ordered_at") AS "us",
    0 AS "s1",
    CASE
      WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s2"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
), "windowed_did_events_add_to_cart_then_directly__times" AS (
  SELECT
    "customer_id",
    "us",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > DATE_PART(EPOCH_MICROSECOND, CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ))
        THEN 1
        ELSE 0
      END
    ) AS "s1",
    MAX("s2") AS "s2"
  FROM "windowed_did_events_add_to_cart_then_directly__rows"
  GROUP BY
    "customer_id",
    "us"
), "windowed_did_events_add_to_cart_then_directly__2" AS (
  SELECT
    *,
    CASE
      WHEN "s2" = 1
      AND LAG("s1") OVER (PARTITION BY "customer_id" ORDER BY "us" ASC NULLS FIRST) = 1
      THEN 1
      ELSE 0
    END AS "e2"
  FROM "windowed_did_events_add_to_cart_then_directly__times"
), "windowed_did_events_add_to_cart_then_directly" AS (
  SELECT
    "customer_id",
    MAX("e2") AS "did_events_add_to_cart_then_directly" /* used by cart_straight_to_order (retention.seg:37) */
  FROM "windowed_did_events_add_to_cart_then_directly__2"
  GROUP BY
    "customer_id"
), "base" AS (
  SELECT
    "universe"."customer_id",
    "universe"."signup_at",
    "universe"."consent_marketing",
    COALESCE("src_orders"."orders_count_first_7_days_after_signup", 0) AS "orders_count_first_7_days_after_signup",
    COALESCE("src_orders"."orders_count_first_30_days_after_first", 0) AS "orders_count_first_30_days_after_first",
    COALESCE("src_orders"."orders_sum_amount_first_90_days_after", 0) AS "orders_sum_amount_first_90_days_after",
    COALESCE("src_events"."events_count_7_days_to_14_days_after", 0) AS "events_count_7_days_to_14_days_after",
    COALESCE("src_events"."events_count_first_7_days_after_signup", 0) AS "events_count_first_7_days_after_signup",
    COALESCE(
      "windowed_did_events_view_then_orders_last_90_days"."did_events_view_then_orders_last_90_days",
      0
    ) AS "did_events_view_then_orders_last_90_days",
    COALESCE(
      "windowed_did_events_add_to_cart_then_directly"."did_events_add_to_cart_then_directly",
      0
    ) AS "did_events_add_to_cart_then_directly"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."customer_id" = "src_orders"."customer_id"
  LEFT JOIN "src_events"
    ON "universe"."customer_id" = "src_events"."customer_id"
  LEFT JOIN "windowed_did_events_view_then_orders_last_90_days"
    ON "universe"."customer_id" = "windowed_did_events_view_then_orders_last_90_days"."customer_id"
  LEFT JOIN "windowed_did_events_add_to_cart_then_directly"
    ON "universe"."customer_id" = "windowed_did_events_add_to_cart_then_directly"."customer_id"
), "layer_1" AS (
  SELECT
    *,
    "orders_count_first_7_days_after_signup" > 0 AS "activated_week1",
    "events_count_7_days_to_14_days_after" > 0 AS "returned_week2",
    (
      "events_count_first_7_days_after_signup" > 0
      AND COALESCE(
        CAST(FLOOR(
          (
            1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "signup_at")
          ) / 86400000000.0
        ) AS BIGINT) >= 14,
        FALSE
      )
    )
    AND COALESCE("events_count_7_days_to_14_days_after" = 0, FALSE) AS "lost_week2",
    "orders_count_first_30_days_after_first" > 0 AS "quick_repeaters",
    "orders_sum_amount_first_90_days_after" AS "first_quarter_spend",
    "did_events_view_then_orders_last_90_days" > 0 AS "viewers_who_bought",
    "did_events_add_to_cart_then_directly" > 0 AS "cart_straight_to_order"
  FROM "base"
), "layer_2" AS (
  SELECT
    *,
    COALESCE("first_quarter_spend" >= 200, FALSE) AS "strong_start"
  FROM "layer_1"
)
SELECT
  "customer_id" AS "customer_id",
  "activated_week1" AS "activated_week1", /* segment activated_week1 (retention.seg:11) */
  "returned_week2" AS "returned_week2", /* segment returned_week2 (retention.seg:14) */
  "lost_week2" AS "lost_week2", /* segment lost_week2 (retention.seg:17) */
  "quick_repeaters" AS "quick_repeaters", /* segment quick_repeaters (retention.seg:24) */
  "strong_start" AS "strong_start", /* segment strong_start (retention.seg:28) */
  "viewers_who_bought" AS "viewers_who_bought", /* segment viewers_who_bought (retention.seg:33) */
  "cart_straight_to_order" AS "cart_straight_to_order" /* segment cart_straight_to_order (retention.seg:36) */
FROM "layer_2"
ORDER BY
  "customer_id"
