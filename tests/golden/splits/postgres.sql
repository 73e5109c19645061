WITH "universe" AS (
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
), "src_orders" AS (
  SELECT
    "customer_id" AS "customer_id",
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "orders_count_last_30_days" /* used by recent_buyers (language.seg:10) */
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND "ordered_at" >= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "windowed_did_events_add_to_cart_then_not_orders__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT) AS "us",
    CASE
      WHEN "name" = 'add_to_cart'
      AND "occurred_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP)
      THEN 1
      ELSE 0
    END AS "s1",
    0 AS "s2"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      "name" = 'add_to_cart'
      AND "occurred_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP)
    )
  UNION ALL
  SELECT
    "customer_id" AS "customer_id",
    CAST(EXTRACT(EPOCH FROM "ordered_at") * 1000000 AS BIGINT) AS "us",
    0 AS "s1",
    CASE WHEN "ordered_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP) THEN 1 ELSE 0 END AS "s2"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      "ordered_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP)
    )
), "windowed_did_events_add_to_cart_then_not_orders__1" AS (
  SELECT
    *,
    MAX(CASE WHEN "s2" = 1 THEN "us" END) OVER (
      PARTITION BY "customer_id"
      ORDER BY "us" ASC NULLS FIRST
      RANGE BETWEEN 1 FOLLOWING AND 86400000000 FOLLOWING
    ) AS "c"
  FROM "windowed_did_events_add_to_cart_then_not_orders__rows"
), "windowed_did_events_add_to_cart_then_not_orders" AS (
  SELECT
    "customer_id",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > CAST(EXTRACT(EPOCH FROM CAST('2025-06-24 00:00:00' AS TIMESTAMP)) * 1000000 AS BIGINT)
        AND "us" + 86400000000 <= 1751328000000000
        AND "c" IS NULL
        THEN 1
        ELSE 0
      END
    ) AS "did_events_add_to_cart_then_not_orders" /* used by cart_abandoners (language.seg:23) */
  FROM "windowed_did_events_add_to_cart_then_not_orders__1"
  GROUP BY
    "customer_id"
), "base" AS (
  SELECT
    "universe"."customer_id",
    "universe"."consent_marketing",
    COALESCE("src_orders"."orders_count_last_30_days", 0) AS "orders_count_last_30_days",
    COALESCE(
      "windowed_did_events_add_to_cart_then_not_orders"."did_events_add_to_cart_then_not_orders",
      0
    ) AS "did_events_add_to_cart_then_not_orders"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."customer_id" = "src_orders"."customer_id"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders"
    ON "universe"."customer_id" = "windowed_did_events_add_to_cart_then_not_orders"."customer_id"
), "layer_1" AS (
  SELECT
    *,
    "did_events_add_to_cart_then_not_orders" > 0 AS "cart_abandoners",
    COALESCE("orders_count_last_30_days" >= 1, FALSE) AS "recent_buyers"
  FROM "base"
), "layer_2" AS (
  SELECT
    *,
    CASE
      WHEN "cart_abandoners"
      THEN (
        CAST(CAST('x' || SUBSTRING(MD5('cart-2024-spring' || '.' || CAST("customer_id" AS TEXT)) FROM 1 FOR 8) AS BIT(32)) AS BIGINT)
      ) % 10000
    END AS "cart_test_bucket",
    CASE
      WHEN "recent_buyers"
      THEN (
        CAST(CAST('x' || SUBSTRING(MD5('buyer_holdout' || '.' || CAST("customer_id" AS TEXT)) FROM 1 FOR 8) AS BIT(32)) AS BIGINT)
      ) % 10000
    END AS "buyer_holdout_bucket"
  FROM "layer_1"
), "layer_3" AS (
  SELECT
    *,
    CASE
      WHEN "cart_test_bucket" < 1000
      THEN 'control'
      WHEN "cart_test_bucket" < 5500
      THEN 'email'
      WHEN "cart_test_bucket" < 10000
      THEN 'sms'
    END AS "cart_test",
    CASE
      WHEN "buyer_holdout_bucket" < 500
      THEN 'holdout'
      WHEN "buyer_holdout_bucket" < 2000
      THEN 'pilot'
    END AS "buyer_holdout"
  FROM "layer_2"
)
SELECT
  "customer_id" AS "customer_id",
  "cart_test" AS "cart_test", /* split cart_test of cart_abandoners (splits.seg:8) */
  "buyer_holdout" AS "buyer_holdout" /* split buyer_holdout of recent_buyers (splits.seg:18) */
FROM "layer_3"
ORDER BY
  "customer_id"
