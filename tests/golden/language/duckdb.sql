WITH "universe" AS (
  SELECT
    "customer_id" AS "customer_id",
    "country" AS "country",
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
    MAX("ordered_at") AS "orders_last_ordered_at", /* used by recency (language.seg:6) */
    COUNT(CASE WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "orders_count_last_365_days", /* used by frequency (language.seg:7) */
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "orders_count_last_30_days", /* used by recent_buyers (language.seg:10) */
    SUM(
      CASE WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN "amount" END
    ) AS "orders_sum_amount_last_90_days", /* used by high_value (language.seg:17) */
    COUNT(
      CASE
        WHEN "ordered_at" >= CAST('2024-04-01 00:00:00' AS TIMESTAMP)
        AND "ordered_at" < CAST('2024-05-01 00:00:00' AS TIMESTAMP)
        THEN 1
      END
    ) AS "orders_count_2024_04_01_to_2024_04_30", /* used by april_double_buyers (language.seg:20) */
    MIN("ordered_at") AS "orders_first_ordered_at" /* used by lifecycle (language.seg:29) */
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "src_events" AS (
  SELECT
    "customer_id" AS "customer_id",
    SUM(
      CASE
        WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        THEN "duration_s"
      END
    ) AS "events_sum_duration_s_last_30_days", /* used by engaged (language.seg:24) */
    COUNT(CASE WHEN "kind" = 'movie' THEN 1 END) AS "events_count_where_kind_movie", /* used by viewing (language.seg:34) */
    COUNT(CASE WHEN "kind" = 'episode' THEN 1 END) AS "events_count_where_kind_episode", /* used by viewing (language.seg:35) */
    COUNT(CASE WHEN "kind" = 'documentary' THEN 1 END) AS "events_count_where_kind_documentary" /* used by viewing (language.seg:36) */
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "windowed_events_count_where_name_pricing_view_any__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    EPOCH_US("occurred_at") AS "us"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
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
    MAX(CASE WHEN "n3" - "us" <= 86400000000 THEN 3 ELSE 0 END) AS "events_count_where_name_pricing_view_any" /* used by pricing_hunters (language.seg:21) */
  FROM "windowed_events_count_where_name_pricing_view_any__1"
  GROUP BY
    "customer_id"
), "windowed_did_events_add_to_cart_then_not_orders__rows" AS (
  SELECT
    "customer_id" AS "customer_id",
    EPOCH_US("occurred_at") AS "us",
    (
      1751328000000000 - EPOCH_US("occurred_at")
    ) // 86400000000 AS "g"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND "name" = 'add_to_cart'
    AND "occurred_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP)
), "windowed_did_events_add_to_cart_then_not_orders__then" AS (
  SELECT
    "customer_id",
    "g",
    MIN("us") AS "lo",
    MAX("us") AS "hi"
  FROM (
    SELECT
      "customer_id" AS "customer_id",
      EPOCH_US("ordered_at") AS "us",
      (
        1751328000000000 - EPOCH_US("ordered_at")
      ) // 86400000000 AS "g"
    FROM "orders"
    WHERE
      NOT "customer_id" IS NULL
      AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
      AND "ordered_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP)
  ) AS "then_rows"
  GROUP BY
    "customer_id",
    "g"
), "windowed_did_events_add_to_cart_then_not_orders" AS (
  SELECT
    "first"."customer_id",
    MAX(
      CASE
        WHEN "first"."us" + 86400000000 <= 1751328000000000
        AND NOT COALESCE("same"."hi" > "first"."us" OR "later"."lo" <= "first"."us" + 86400000000, FALSE)
        THEN 1
        ELSE 0
      END
    ) AS "did_events_add_to_cart_then_not_orders" /* used by cart_abandoners (language.seg:23) */
  FROM "windowed_did_events_add_to_cart_then_not_orders__rows" AS "first"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders__then" AS "same"
    ON "same"."customer_id" = "first"."customer_id" AND "same"."g" = "first"."g"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders__then" AS "later"
    ON "later"."customer_id" = "first"."customer_id" AND "later"."g" = "first"."g" - 1
  GROUP BY
    "first"."customer_id"
), "base" AS (
  SELECT
    "universe"."customer_id",
    "universe"."country",
    "universe"."consent_marketing",
    "src_orders"."orders_last_ordered_at" AS "orders_last_ordered_at",
    COALESCE("src_orders"."orders_count_last_365_days", 0) AS "orders_count_last_365_days",
    COALESCE("src_orders"."orders_count_last_30_days", 0) AS "orders_count_last_30_days",
    COALESCE("src_orders"."orders_sum_amount_last_90_days", 0) AS "orders_sum_amount_last_90_days",
    COALESCE("src_orders"."orders_count_2024_04_01_to_2024_04_30", 0) AS "orders_count_2024_04_01_to_2024_04_30",
    "src_orders"."orders_first_ordered_at" AS "orders_first_ordered_at",
    COALESCE("src_events"."events_sum_duration_s_last_30_days", 0) AS "events_sum_duration_s_last_30_days",
    COALESCE("src_events"."events_count_where_kind_movie", 0) AS "events_count_where_kind_movie",
    COALESCE("src_events"."events_count_where_kind_episode", 0) AS "events_count_where_kind_episode",
    COALESCE("src_events"."events_count_where_kind_documentary", 0) AS "events_count_where_kind_documentary",
    COALESCE(
      "windowed_events_count_where_name_pricing_view_any"."events_count_where_name_pricing_view_any",
      0
    ) AS "events_count_where_name_pricing_view_any",
    COALESCE(
      "windowed_did_events_add_to_cart_then_not_orders"."did_events_add_to_cart_then_not_orders",
      0
    ) AS "did_events_add_to_cart_then_not_orders"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."customer_id" = "src_orders"."customer_id"
  LEFT JOIN "src_events"
    ON "universe"."customer_id" = "src_events"."customer_id"
  LEFT JOIN "windowed_events_count_where_name_pricing_view_any"
    ON "universe"."customer_id" = "windowed_events_count_where_name_pricing_view_any"."customer_id"
  LEFT JOIN "windowed_did_events_add_to_cart_then_not_orders"
    ON "universe"."customer_id" = "windowed_did_events_add_to_cart_then_not_orders"."customer_id"
), "rank_events_sum_duration_s_last_30_days" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "events_sum_duration_s_last_30_days" AS "v"
    FROM "base"
    WHERE
      NOT "events_sum_duration_s_last_30_days" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "layer_1" AS (
  SELECT
    "base".*,
    "rank_events_sum_duration_s_last_30_days"."le" AS "rank_events_sum_duration_s_last_30_days_le",
    "rank_events_sum_duration_s_last_30_days"."n" AS "rank_events_sum_duration_s_last_30_days_n",
    CAST(FLOOR((
      1751328000000000 - EPOCH_US("orders_last_ordered_at")
    ) / 86400000000.0) AS BIGINT) AS "recency",
    "orders_count_last_365_days" AS "frequency",
    COALESCE("orders_count_last_30_days" >= 1, FALSE) AS "recent_buyers",
    COALESCE("orders_sum_amount_last_90_days" > 1000, FALSE)
    AND COALESCE("country" IN ('US', 'CA'), FALSE) AS "high_value",
    COALESCE("orders_count_2024_04_01_to_2024_04_30" = 2, FALSE) AS "april_double_buyers",
    COALESCE("events_count_where_name_pricing_view_any" > 2, FALSE) AS "pricing_hunters",
    "did_events_add_to_cart_then_not_orders" > 0 AS "cart_abandoners",
    CASE
      WHEN COALESCE("events_count_where_kind_movie", 0) > 0
      AND COALESCE("events_count_where_kind_movie", 0) >= COALESCE("events_count_where_kind_episode", 0)
      AND COALESCE("events_count_where_kind_movie", 0) >= COALESCE((
        1.5 * "events_count_where_kind_documentary"
      ), 0)
      THEN 'movie_watchers'
      WHEN COALESCE("events_count_where_kind_episode", 0) > 0
      AND COALESCE("events_count_where_kind_episode", 0) > COALESCE("events_count_where_kind_movie", 0)
      AND COALESCE("events_count_where_kind_episode", 0) >= COALESCE((
        1.5 * "events_count_where_kind_documentary"
      ), 0)
      THEN 'bingers'
      WHEN COALESCE((
        1.5 * "events_count_where_kind_documentary"
      ), 0) > 0
      AND COALESCE((
        1.5 * "events_count_where_kind_documentary"
      ), 0) > COALESCE("events_count_where_kind_movie", 0)
      AND COALESCE((
        1.5 * "events_count_where_kind_documentary"
      ), 0) > COALESCE("events_count_where_kind_episode", 0)
      THEN 'documentaries'
      ELSE 'unclassified'
    END AS "viewing"
  FROM "base"
  LEFT JOIN "rank_events_sum_duration_s_last_30_days"
    ON "events_sum_duration_s_last_30_days" = "rank_events_sum_duration_s_last_30_days"."v"
), "layer_2" AS (
  SELECT
    *,
    COALESCE(
      CAST("rank_events_sum_duration_s_last_30_days_le" AS DOUBLE) / "rank_events_sum_duration_s_last_30_days_n" > 0.8,
      FALSE
    ) AS "engaged",
    CASE
      WHEN "high_value" AND "recent_buyers"
      THEN 'vip'
      WHEN COALESCE("frequency" >= 3, FALSE) AND COALESCE("recency" > 60, FALSE)
      THEN 'at_risk'
      WHEN COALESCE(
        CAST(FLOOR((
          1751328000000000 - EPOCH_US("orders_first_ordered_at")
        ) / 86400000000.0) AS BIGINT) <= 30,
        FALSE
      )
      THEN 'new'
      ELSE 'browsers'
    END AS "lifecycle"
  FROM "layer_1"
)
SELECT
  "customer_id" AS "customer_id",
  "recent_buyers" AS "recent_buyers", /* segment recent_buyers (language.seg:10) */
  "high_value" AS "high_value", /* segment high_value (language.seg:12) */
  "april_double_buyers" AS "april_double_buyers", /* segment april_double_buyers (language.seg:20) */
  "pricing_hunters" AS "pricing_hunters", /* segment pricing_hunters (language.seg:21) */
  "cart_abandoners" AS "cart_abandoners", /* segment cart_abandoners (language.seg:22) */
  "engaged" AS "engaged", /* segment engaged (language.seg:24) */
  "lifecycle" AS "lifecycle", /* segmentation lifecycle (language.seg:26) */
  "viewing" AS "viewing" /* segmentation viewing (language.seg:33) */
FROM "layer_2"
ORDER BY
  "customer_id"
