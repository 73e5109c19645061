WITH "universe" AS (
  SELECT
    "customer_id" AS "customer_id",
    "device" AS "device",
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
    COUNT(*) AS "orders_count", /* used by first_time_visitors (ecommerce.seg:10) */
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "orders_count_last_30_days", /* used by deal_seekers (ecommerce.seg:28), recent_buyers (language.seg:10), lapsing_customers (ecommerce.seg:52) */
    SUM(
      CASE
        WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "amount"
      END
    ) AS "orders_sum_amount_last_365_days", /* used by monetary (language.seg:8) */
    SUM(
      CASE
        WHEN "ordered_at" >= CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        AND "ordered_at" < CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "amount"
      END
    ) AS "orders_sum_amount_previous_month", /* used by spend_last_month (ecommerce.seg:35) */
    SUM(
      CASE
        WHEN "ordered_at" >= CAST('2025-01-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "amount"
      END
    ) AS "orders_sum_amount_this_year", /* used by spend_this_year (ecommerce.seg:36) */
    SUM(
      CASE
        WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "amount"
      END
    ) AS "orders_sum_amount_last_30_days", /* used by growing_spenders (ecommerce.seg:40) */
    SUM(
      CASE
        WHEN "ordered_at" > CAST('2025-05-02 00:00:00' AS TIMESTAMPNTZ)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "amount"
      END
    ) AS "orders_sum_amount_30_days_to_60_days_ago", /* used by growing_spenders (ecommerce.seg:40) */
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-05-02 00:00:00' AS TIMESTAMPNTZ)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        THEN 1
      END
    ) AS "orders_count_30_days_to_60_days_ago", /* used by growing_spenders (ecommerce.seg:41) */
    COUNT(CASE WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "orders_count_last_365_days", /* used by frequency (language.seg:7), journey (ecommerce.seg:100) */
    AVG(
      CASE
        WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMPNTZ)
        THEN "quantity"
      END
    ) AS "orders_avg_quantity_last_365_days", /* used by bulk_buyers (ecommerce.seg:47) */
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        THEN 1
      END
    ) AS "orders_count_30_days_to_90_days_ago", /* used by lapsing_customers (ecommerce.seg:52) */
    MAX("ordered_at") AS "orders_last_ordered_at", /* used by not_recent_buyers (ecommerce.seg:55), recency (language.seg:6) */
    COUNT(CASE WHEN "ordered_at" <= CAST('2025-01-02 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "orders_count_before_180_days_ago", /* used by dormant_buyers (ecommerce.seg:58) */
    COUNT(CASE WHEN "ordered_at" > CAST('2025-01-02 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "orders_count_last_180_days", /* used by dormant_buyers (ecommerce.seg:58) */
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ)
        AND DAYOFWEEKISO("ordered_at") >= 6
        THEN 1
      END
    ) AS "orders_count_where_ordered_at_last_90", /* used by mobile_weekend_shoppers (ecommerce.seg:71) */
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMPNTZ)
        AND "sku" IN ('SKU-0001', 'SKU-0002')
        THEN 1
      END
    ) AS "orders_count_where_sku_sku_0001_sku_0002", /* used by sku_loyalists (ecommerce.seg:79) */
    MIN("ordered_at") AS "orders_first_ordered_at" /* used by journey (ecommerce.seg:99) */
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
  GROUP BY
    "customer_id"
), "src_events" AS (
  SELECT
    "customer_id" AS "customer_id",
    COUNT(CASE WHEN "occurred_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "events_count_last_7_days", /* used by first_time_visitors (ecommerce.seg:10) */
    COUNT(
      CASE WHEN "occurred_at" <= CAST('2025-06-24 00:00:00' AS TIMESTAMPNTZ) THEN 1 END
    ) AS "events_count_before_7_days_ago", /* used by first_time_visitors (ecommerce.seg:10) */
    SUM(
      POWER(
        0.5,
        LEAST_IGNORE_NULLS(
          CAST((
            1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "occurred_at")
          ) AS DOUBLE) / 1209600000000,
          1000
        )
      )
    ) AS "events_decayed_count_half_life_14_days", /* used by engagement (ecommerce.seg:64) */
    COUNT(
      CASE
        WHEN "occurred_at" > CAST('2025-03-03 00:00:00' AS TIMESTAMPNTZ)
        AND "occurred_at" <= CAST('2025-05-02 00:00:00' AS TIMESTAMPNTZ)
        THEN 1
      END
    ) AS "events_count_60_days_to_120_days_ago", /* used by cooling_down (ecommerce.seg:65) */
    COUNT(
      CASE
        WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
        AND (
          DATE_PART(HOUR, "occurred_at") >= 22 OR DATE_PART(HOUR, "occurred_at") < 5
        )
        THEN 1
      END
    ) AS "events_count_where_occurred_at_last_30", /* used by night_owls (ecommerce.seg:75) */
    COUNT(CASE WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "events_count_last_30_days", /* used by night_owls (ecommerce.seg:76) */
    COUNT(CASE WHEN "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMPNTZ) THEN 1 END) AS "events_count_last_90_days" /* used by journey (ecommerce.seg:101) */
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
  GROUP BY
    "customer_id"
), "distinct_events_count_distinct_occurred_at_last" AS (
  SELECT
    "customer_id",
    COUNT(*) AS "events_count_distinct_occurred_at_last" /* used by regulars (ecommerce.seg:61) */
  FROM (
    SELECT
      "customer_id"
    FROM (
      SELECT
        "customer_id" AS "customer_id",
        CAST("occurred_at" AS DATE) AS "v"
      FROM "web_events"
      WHERE
        NOT "customer_id" IS NULL
        AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
        AND NOT CAST("occurred_at" AS DATE) IS NULL
        AND (
          "occurred_at" > CAST('2025-06-03 00:00:00' AS TIMESTAMPNTZ)
        )
    ) AS "distinct_rows"
    GROUP BY
      "customer_id",
      "v"
  ) AS "pairs"
  GROUP BY
    "customer_id"
), "windowed_did_events_add_to_cart_then_not_orders__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us",
    CAST((
      (
        1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "occurred_at")
      ) - (
        1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "occurred_at")
      ) % 172800000000
    ) / 172800000000 AS BIGINT) AS "g",
    "sku" AS "on"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND "name" = 'add_to_cart'
    AND NOT "sku" IS NULL
    AND "occurred_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMPNTZ)
), "windowed_did_events_add_to_cart_then_not_orders__then" AS (
  SELECT
    "customer_id",
    "on",
    "g",
    MIN("us") AS "lo",
    MAX("us") AS "hi"
  FROM (
    SELECT
      "customer_id" AS "customer_id",
      DATE_PART(EPOCH_MICROSECOND, "ordered_at") AS "us",
      CAST((
        (
          1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "ordered_at")
        ) - (
          1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "ordered_at")
        ) % 172800000000
      ) / 172800000000 AS BIGINT) AS "g",
      "sku" AS "on"
    FROM "orders"
    WHERE
      NOT "customer_id" IS NULL
      AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
      AND NOT "sku" IS NULL
      AND "ordered_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMPNTZ)
  ) AS "then_rows"
  GROUP BY
    "customer_id",
    "on",
    "g"
), "windowed_did_events_add_to_cart_then_not_orders" AS (
  SELECT
    "first"."customer_id",
    MAX(
      CASE
        WHEN "first"."us" + 172800000000 <= 1751328000000000
        AND NOT COALESCE("same"."hi" > "first"."us" OR "later"."lo" <= "first"."us" + 172800000000, FALSE)
        THEN 1
        ELSE 0
      END
    ) AS "did_events_add_to_cart_then_not_orders" /* used by product_cart_abandoners (ecommerce.seg:15) */
  FROM "windowed_did_events_add_to_cart_then_not_orders__rows" AS "first"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders__then" AS "same"
    ON "same"."customer_id" = "first"."customer_id"
    AND "same"."on" = "first"."on"
    AND "same"."g" = "first"."g"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders__then" AS "later"
    ON "later"."customer_id" = "first"."customer_id"
    AND "later"."on" = "first"."on"
    AND "later"."g" = "first"."g" - 1
  GROUP BY
    "first"."customer_id"
), "windowed_did_events_view_then_not_orders_in_2__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us",
    CAST((
      (
        1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "occurred_at")
      ) - (
        1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "occurred_at")
      ) % 172800000000
    ) / 172800000000 AS BIGINT) AS "g",
    "sku" AS "on"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND "name" = 'view'
    AND NOT "sku" IS NULL
), "windowed_did_events_view_then_not_orders_in_2__then" AS (
  SELECT
    "customer_id",
    "on",
    "g",
    MIN("us") AS "lo",
    MAX("us") AS "hi"
  FROM (
    SELECT
      "customer_id" AS "customer_id",
      DATE_PART(EPOCH_MICROSECOND, "ordered_at") AS "us",
      CAST((
        (
          1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "ordered_at")
        ) - (
          1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "ordered_at")
        ) % 172800000000
      ) / 172800000000 AS BIGINT) AS "g",
      "sku" AS "on"
    FROM "orders"
    WHERE
      NOT "customer_id" IS NULL
      AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
      AND NOT "sku" IS NULL
  ) AS "then_rows"
  GROUP BY
    "customer_id",
    "on",
    "g"
), "windowed_did_events_view_then_not_orders_in_2" AS (
  SELECT
    "first"."customer_id",
    MAX(
      CASE
        WHEN "first"."us" + 172800000000 <= 1751328000000000
        AND NOT COALESCE("same"."hi" > "first"."us" OR "later"."lo" <= "first"."us" + 172800000000, FALSE)
        THEN 1
        ELSE 0
      END
    ) AS "did_events_view_then_not_orders_in_2" /* used by viewed_not_bought (ecommerce.seg:19) */
  FROM "windowed_did_events_view_then_not_orders_in_2__rows" AS "first"
  LEFT JOIN "windowed_did_events_view_then_not_orders_in_2__then" AS "same"
    ON "same"."customer_id" = "first"."customer_id"
    AND "same"."on" = "first"."on"
    AND "same"."g" = "first"."g"
  LEFT JOIN "windowed_did_events_view_then_not_orders_in_2__then" AS "later"
    ON "later"."customer_id" = "first"."customer_id"
    AND "later"."on" = "first"."on"
    AND "later"."g" = "first"."g" - 1
  GROUP BY
    "first"."customer_id"
), "windowed_did_events_view_then_events_add_to_cart__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us",
    CASE
      WHEN "name" = 'view' AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s1",
    CASE
      WHEN "name" = 'add_to_cart'
      AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s2",
    0 AS "s3"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      (
        "name" = 'view' AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
      )
      OR (
        "name" = 'add_to_cart'
        AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
      )
    )
  UNION ALL
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "ordered_at") AS "us",
    0 AS "s1",
    0 AS "s2",
    CASE
      WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
      THEN 1
      ELSE 0
    END AS "s3"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ)
    )
), "windowed_did_events_view_then_events_add_to_cart__1" AS (
  SELECT
    *,
    CASE
      WHEN "s2" = 1
      THEN MIN(CASE WHEN "s3" = 1 THEN "us" END) OVER (
        PARTITION BY "customer_id"
        ORDER BY "us" DESC NULLS LAST
        RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      )
    END AS "r2"
  FROM "windowed_did_events_view_then_events_add_to_cart__rows"
), "windowed_did_events_view_then_events_add_to_cart__2" AS (
  SELECT
    *,
    MIN("r2") OVER (
      PARTITION BY "customer_id"
      ORDER BY "us" DESC NULLS LAST
      RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS "r"
  FROM "windowed_did_events_view_then_events_add_to_cart__1"
), "windowed_did_events_view_then_events_add_to_cart" AS (
  SELECT
    "customer_id",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > DATE_PART(EPOCH_MICROSECOND, CAST('2025-06-01 00:00:00' AS TIMESTAMPNTZ))
        AND "r" <= "us" + 604800000000
        THEN 1
        ELSE 0
      END
    ) AS "did_events_view_then_events_add_to_cart" /* used by funnel_completers (ecommerce.seg:23) */
  FROM "windowed_did_events_view_then_events_add_to_cart__2"
  GROUP BY
    "customer_id"
), "windowed_events_count_where_name_pricing_view_any__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    DATE_PART(EPOCH_MICROSECOND, "occurred_at") AS "us"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMPNTZ)
    AND (
      "name" = 'pricing_view'
    )
), "windowed_events_count_where_name_pricing_view_any__1" AS (
  SELECT
    *,
    LEAD("us", 2) OVER (PARTITION BY "customer_id" ORDER BY "us" ASC NULLS FIRST) AS "n3"
  FROM "windowed_events_count_where_name_pricing_view_any__rows"
), "windowed_events_count_where_name_pricing_view_any" AS (
  SELECT
    "customer_id",
    MAX(CASE WHEN "n3" - "us" <= 86400000000 THEN 3 ELSE 0 END) AS "events_count_where_name_pricing_view_any" /* used by deal_seekers (ecommerce.seg:28) */
  FROM "windowed_events_count_where_name_pricing_view_any__1"
  GROUP BY
    "customer_id"
), "base" AS (
  SELECT
    "universe"."customer_id",
    "universe"."device",
    "universe"."consent_marketing",
    COALESCE("src_orders"."orders_count", 0) AS "orders_count",
    COALESCE("src_orders"."orders_count_last_30_days", 0) AS "orders_count_last_30_days",
    COALESCE("src_orders"."orders_sum_amount_last_365_days", 0) AS "orders_sum_amount_last_365_days",
    COALESCE("src_orders"."orders_sum_amount_previous_month", 0) AS "orders_sum_amount_previous_month",
    COALESCE("src_orders"."orders_sum_amount_this_year", 0) AS "orders_sum_amount_this_year",
    COALESCE("src_orders"."orders_sum_amount_last_30_days", 0) AS "orders_sum_amount_last_30_days",
    COALESCE("src_orders"."orders_sum_amount_30_days_to_60_days_ago", 0) AS "orders_sum_amount_30_days_to_60_days_ago",
    COALESCE("src_orders"."orders_count_30_days_to_60_days_ago", 0) AS "orders_count_30_days_to_60_days_ago",
    COALESCE("src_orders"."orders_count_last_365_days", 0) AS "orders_count_last_365_days",
    "src_orders"."orders_avg_quantity_last_365_days" AS "orders_avg_quantity_last_365_days",
    COALESCE("src_orders"."orders_count_30_days_to_90_days_ago", 0) AS "orders_count_30_days_to_90_days_ago",
    "src_orders"."orders_last_ordered_at" AS "orders_last_ordered_at",
    COALESCE("src_orders"."orders_count_before_180_days_ago", 0) AS "orders_count_before_180_days_ago",
    COALESCE("src_orders"."orders_count_last_180_days", 0) AS "orders_count_last_180_days",
    COALESCE("src_orders"."orders_count_where_ordered_at_last_90", 0) AS "orders_count_where_ordered_at_last_90",
    COALESCE("src_orders"."orders_count_where_sku_sku_0001_sku_0002", 0) AS "orders_count_where_sku_sku_0001_sku_0002",
    "src_orders"."orders_first_ordered_at" AS "orders_first_ordered_at",
    COALESCE("src_events"."events_count_last_7_days", 0) AS "events_count_last_7_days",
    COALESCE("src_events"."events_count_before_7_days_ago", 0) AS "events_count_before_7_days_ago",
    COALESCE("src_events"."events_decayed_count_half_life_14_days", 0) AS "events_decayed_count_half_life_14_days",
    COALESCE("src_events"."events_count_60_days_to_120_days_ago", 0) AS "events_count_60_days_to_120_days_ago",
    COALESCE("src_events"."events_count_where_occurred_at_last_30", 0) AS "events_count_where_occurred_at_last_30",
    COALESCE("src_events"."events_count_last_30_days", 0) AS "events_count_last_30_days",
    COALESCE("src_events"."events_count_last_90_days", 0) AS "events_count_last_90_days",
    COALESCE(
      "distinct_events_count_distinct_occurred_at_last"."events_count_distinct_occurred_at_last",
      0
    ) AS "events_count_distinct_occurred_at_last",
    COALESCE(
      "windowed_did_events_add_to_cart_then_not_orders"."did_events_add_to_cart_then_not_orders",
      0
    ) AS "did_events_add_to_cart_then_not_orders",
    COALESCE(
      "windowed_did_events_view_then_not_orders_in_2"."did_events_view_then_not_orders_in_2",
      0
    ) AS "did_events_view_then_not_orders_in_2",
    COALESCE(
      "windowed_did_events_view_then_events_add_to_cart"."did_events_view_then_events_add_to_cart",
      0
    ) AS "did_events_view_then_events_add_to_cart",
    COALESCE(
      "windowed_events_count_where_name_pricing_view_any"."events_count_where_name_pricing_view_any",
      0
    ) AS "events_count_where_name_pricing_view_any"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."customer_id" = "src_orders"."customer_id"
  LEFT JOIN "src_events"
    ON "universe"."customer_id" = "src_events"."customer_id"
  LEFT JOIN "distinct_events_count_distinct_occurred_at_last"
    ON "universe"."customer_id" = "distinct_events_count_distinct_occurred_at_last"."customer_id"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders"
    ON "universe"."customer_id" = "windowed_did_events_add_to_cart_then_not_orders"."customer_id"
  LEFT JOIN "windowed_did_events_view_then_not_orders_in_2"
    ON "universe"."customer_id" = "windowed_did_events_view_then_not_orders_in_2"."customer_id"
  LEFT JOIN "windowed_did_events_view_then_events_add_to_cart"
    ON "universe"."customer_id" = "windowed_did_events_view_then_events_add_to_cart"."customer_id"
  LEFT JOIN "windowed_events_count_where_name_pricing_view_any"
    ON "universe"."customer_id" = "windowed_events_count_where_name_pricing_view_any"."customer_id"
), "layer_1" AS (
  SELECT
    *,
    (
      "events_count_last_7_days" > 0 AND NOT (
        "events_count_before_7_days_ago" > 0
      )
    )
    AND NOT (
      "orders_count" > 0
    ) AS "first_time_visitors",
    "did_events_add_to_cart_then_not_orders" > 0 AS "product_cart_abandoners",
    "did_events_view_then_not_orders_in_2" > 0 AS "viewed_not_bought",
    "did_events_view_then_events_add_to_cart" > 0 AS "funnel_completers",
    COALESCE("events_count_where_name_pricing_view_any" >= 3, FALSE)
    AND NOT (
      "orders_count_last_30_days" > 0
    ) AS "deal_seekers",
    "orders_sum_amount_last_365_days" AS "monetary",
    COALESCE("orders_count_last_30_days" >= 1, FALSE) AS "recent_buyers",
    "orders_sum_amount_previous_month" AS "spend_last_month",
    "orders_sum_amount_this_year" AS "spend_this_year",
    COALESCE(
      "orders_sum_amount_last_30_days" > "orders_sum_amount_30_days_to_60_days_ago",
      FALSE
    )
    AND "orders_count_30_days_to_60_days_ago" > 0 AS "growing_spenders",
    "orders_count_last_365_days" AS "frequency",
    "orders_count_30_days_to_90_days_ago" > 0
    AND NOT (
      "orders_count_last_30_days" > 0
    ) AS "lapsing_customers",
    NOT (
      COALESCE(
        CAST(FLOOR(
          (
            1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "orders_last_ordered_at")
          ) / 86400000000.0
        ) AS BIGINT) < 30,
        FALSE
      )
    ) AS "not_recent_buyers",
    "orders_count_before_180_days_ago" > 0
    AND NOT (
      "orders_count_last_180_days" > 0
    ) AS "dormant_buyers",
    COALESCE("events_count_distinct_occurred_at_last" >= 10, FALSE) AS "regulars",
    "events_decayed_count_half_life_14_days" AS "engagement",
    COALESCE("device" = 'mobile', FALSE)
    AND COALESCE("orders_count_where_ordered_at_last_90" >= 2, FALSE) AS "mobile_weekend_shoppers",
    COALESCE(
      "events_count_where_occurred_at_last_30" > CAST("events_count_last_30_days" AS DOUBLE) / NULLIF(2, 0),
      FALSE
    ) AS "night_owls",
    COALESCE("orders_count_where_sku_sku_0001_sku_0002" >= 3, FALSE) AS "sku_loyalists",
    CAST(FLOOR(
      (
        1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "orders_last_ordered_at")
      ) / 86400000000.0
    ) AS BIGINT) AS "recency"
  FROM "base"
), "rank_monetary" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "monetary" AS "v"
    FROM "layer_1"
    WHERE
      NOT "monetary" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "rank_recency" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      -(
        "recency"
      ) AS "v"
    FROM "layer_1"
    WHERE
      NOT -(
        "recency"
      ) IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "rank_frequency" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "frequency" AS "v"
    FROM "layer_1"
    WHERE
      NOT "frequency" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "layer_2" AS (
  SELECT
    "layer_1".*,
    "rank_monetary"."le" AS "rank_monetary_le",
    "rank_monetary"."n" AS "rank_monetary_n",
    "rank_recency"."le" AS "rank_recency_le",
    "rank_recency"."n" AS "rank_recency_n",
    "rank_frequency"."le" AS "rank_frequency_le",
    "rank_frequency"."n" AS "rank_frequency_n",
    (
      COALESCE("spend_last_month" >= 300, FALSE)
      OR COALESCE("spend_this_year" >= 2000, FALSE)
    ) AS "big_spenders_last_month",
    COALESCE("orders_avg_quantity_last_365_days" >= 2.5, FALSE)
    AND COALESCE("frequency" >= 2, FALSE) AS "bulk_buyers",
    COALESCE("engagement" < 1, FALSE)
    AND COALESCE("events_count_60_days_to_120_days_ago" >= 10, FALSE) AS "cooling_down"
  FROM "layer_1"
  LEFT JOIN "rank_monetary"
    ON "monetary" = "rank_monetary"."v"
  LEFT JOIN "rank_recency"
    ON -(
      "recency"
    ) = "rank_recency"."v"
  LEFT JOIN "rank_frequency"
    ON "frequency" = "rank_frequency"."v"
), "layer_3" AS (
  SELECT
    *,
    "recent_buyers"
    AND COALESCE(CAST("rank_monetary_le" AS DOUBLE) / "rank_monetary_n" > 0.9, FALSE) AS "recent_high_value_buyers",
    CASE
      WHEN "rank_recency_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "rank_recency_le" <= 1 * "rank_recency_n"
        THEN 1
        WHEN 5 * "rank_recency_le" <= 2 * "rank_recency_n"
        THEN 2
        WHEN 5 * "rank_recency_le" <= 3 * "rank_recency_n"
        THEN 3
        WHEN 5 * "rank_recency_le" <= 4 * "rank_recency_n"
        THEN 4
        ELSE 5
      END
    END AS "r_score",
    CASE
      WHEN "rank_frequency_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "rank_frequency_le" <= 1 * "rank_frequency_n"
        THEN 1
        WHEN 5 * "rank_frequency_le" <= 2 * "rank_frequency_n"
        THEN 2
        WHEN 5 * "rank_frequency_le" <= 3 * "rank_frequency_n"
        THEN 3
        WHEN 5 * "rank_frequency_le" <= 4 * "rank_frequency_n"
        THEN 4
        ELSE 5
      END
    END AS "f_score",
    CASE
      WHEN "rank_monetary_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "rank_monetary_le" <= 1 * "rank_monetary_n"
        THEN 1
        WHEN 5 * "rank_monetary_le" <= 2 * "rank_monetary_n"
        THEN 2
        WHEN 5 * "rank_monetary_le" <= 3 * "rank_monetary_n"
        THEN 3
        WHEN 5 * "rank_monetary_le" <= 4 * "rank_monetary_n"
        THEN 4
        ELSE 5
      END
    END AS "m_score"
  FROM "layer_2"
), "layer_4" AS (
  SELECT
    *,
    (
      COALESCE("r_score" >= 4, FALSE) AND COALESCE("f_score" >= 4, FALSE)
    )
    AND COALESCE("m_score" >= 4, FALSE) AS "rfm_champions",
    COALESCE("r_score" <= 2, FALSE)
    AND (
      COALESCE("f_score" >= 4, FALSE) OR COALESCE("m_score" >= 4, FALSE)
    ) AS "rfm_at_risk"
  FROM "layer_3"
), "layer_5" AS (
  SELECT
    *,
    CASE
      WHEN "rfm_champions"
      THEN 'champions'
      WHEN (
        "lapsing_customers" OR "rfm_at_risk"
      )
      THEN 'slipping'
      WHEN "dormant_buyers"
      THEN 'gone_quiet'
      WHEN (
        "first_time_visitors"
        OR COALESCE(
          CAST(FLOOR(
            (
              1751328000000000 - DATE_PART(EPOCH_MICROSECOND, "orders_first_ordered_at")
            ) / 86400000000.0
          ) AS BIGINT) <= 30,
          FALSE
        )
      )
      THEN 'newcomers'
      WHEN "orders_count_last_365_days" > 0
      THEN 'active_buyers'
      WHEN "events_count_last_90_days" > 0
      THEN 'window_shoppers'
      ELSE 'prospects'
    END AS "journey"
  FROM "layer_4"
)
SELECT
  "customer_id" AS "customer_id",
  "first_time_visitors" AS "first_time_visitors", /* segment first_time_visitors (ecommerce.seg:9) */
  "product_cart_abandoners" AS "product_cart_abandoners", /* segment product_cart_abandoners (ecommerce.seg:14) */
  "viewed_not_bought" AS "viewed_not_bought", /* segment viewed_not_bought (ecommerce.seg:19) */
  "funnel_completers" AS "funnel_completers", /* segment funnel_completers (ecommerce.seg:22) */
  "deal_seekers" AS "deal_seekers", /* segment deal_seekers (ecommerce.seg:27) */
  "recent_high_value_buyers" AS "recent_high_value_buyers", /* segment recent_high_value_buyers (ecommerce.seg:33) */
  "growing_spenders" AS "growing_spenders", /* segment growing_spenders (ecommerce.seg:39) */
  "big_spenders_last_month" AS "big_spenders_last_month", /* segment big_spenders_last_month (ecommerce.seg:44) */
  "bulk_buyers" AS "bulk_buyers", /* segment bulk_buyers (ecommerce.seg:47) */
  "lapsing_customers" AS "lapsing_customers", /* segment lapsing_customers (ecommerce.seg:52) */
  "not_recent_buyers" AS "not_recent_buyers", /* segment not_recent_buyers (ecommerce.seg:55) */
  "dormant_buyers" AS "dormant_buyers", /* segment dormant_buyers (ecommerce.seg:58) */
  "regulars" AS "regulars", /* segment regulars (ecommerce.seg:61) */
  "cooling_down" AS "cooling_down", /* segment cooling_down (ecommerce.seg:65) */
  "mobile_weekend_shoppers" AS "mobile_weekend_shoppers", /* segment mobile_weekend_shoppers (ecommerce.seg:70) */
  "night_owls" AS "night_owls", /* segment night_owls (ecommerce.seg:74) */
  "sku_loyalists" AS "sku_loyalists", /* segment sku_loyalists (ecommerce.seg:79) */
  "rfm_champions" AS "rfm_champions", /* segment rfm_champions (ecommerce.seg:89) */
  "rfm_at_risk" AS "rfm_at_risk", /* segment rfm_at_risk (ecommerce.seg:90) */
  "journey" AS "journey" /* segmentation journey (ecommerce.seg:95) */
FROM "layer_5"
ORDER BY
  "customer_id"
