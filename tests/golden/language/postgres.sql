WITH "universe" AS (
  SELECT
    "customer_id" AS "k",
    "country" AS "p1",
    "consent_marketing" AS "p2"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL AND "consent_marketing" = TRUE
), "src_orders" AS (
  SELECT
    "customer_id" AS "k",
    MAX("ordered_at") AS "a1",
    COUNT(CASE WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a2",
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a3",
    SUM(
      CASE WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN "amount" END
    ) AS "a4",
    COUNT(
      CASE
        WHEN "ordered_at" >= CAST('2024-04-01 00:00:00' AS TIMESTAMP)
        AND "ordered_at" < CAST('2024-05-01 00:00:00' AS TIMESTAMP)
        THEN 1
      END
    ) AS "a5",
    MIN("ordered_at") AS "a9"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "src_events" AS (
  SELECT
    "customer_id" AS "k",
    SUM(
      CASE
        WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        THEN "duration_s"
      END
    ) AS "a8",
    COUNT(CASE WHEN "kind" = 'movie' THEN 1 END) AS "a10",
    COUNT(CASE WHEN "kind" = 'episode' THEN 1 END) AS "a11",
    COUNT(CASE WHEN "kind" = 'documentary' THEN 1 END) AS "a12"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "windowed_a6_rows" AS (
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT) AS "us"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      "name" = 'pricing_view'
    )
), "windowed_a6_1" AS (
  SELECT
    *,
    LEAD("us", 2) OVER (PARTITION BY "k" ORDER BY "us" ASC NULLS FIRST) AS "n3"
  FROM "windowed_a6_rows"
), "windowed_a6" AS (
  SELECT
    "k",
    MAX(CASE WHEN "n3" - "us" <= 86400000000 THEN 3 ELSE 0 END) AS "a6"
  FROM "windowed_a6_1"
  GROUP BY
    "k"
), "windowed_a7_rows" AS (
  SELECT
    "customer_id" AS "k",
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
    "customer_id" AS "k",
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
), "windowed_a7_1" AS (
  SELECT
    *,
    MAX(CASE WHEN "s2" = 1 THEN "us" END) OVER (
      PARTITION BY "k"
      ORDER BY "us" ASC NULLS FIRST
      RANGE BETWEEN 1 FOLLOWING AND 86400000000 FOLLOWING
    ) AS "c"
  FROM "windowed_a7_rows"
), "windowed_a7" AS (
  SELECT
    "k",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > CAST(EXTRACT(EPOCH FROM CAST('2025-06-24 00:00:00' AS TIMESTAMP)) * 1000000 AS BIGINT)
        AND "us" + 86400000000 <= 1751328000000000
        AND "c" IS NULL
        THEN 1
        ELSE 0
      END
    ) AS "a7"
  FROM "windowed_a7_1"
  GROUP BY
    "k"
), "base" AS (
  SELECT
    "universe"."k",
    "universe"."p1",
    "universe"."p2",
    "src_orders"."a1" AS "a1",
    COALESCE("src_orders"."a2", 0) AS "a2",
    COALESCE("src_orders"."a3", 0) AS "a3",
    COALESCE("src_orders"."a4", 0) AS "a4",
    COALESCE("src_orders"."a5", 0) AS "a5",
    "src_orders"."a9" AS "a9",
    COALESCE("src_events"."a8", 0) AS "a8",
    COALESCE("src_events"."a10", 0) AS "a10",
    COALESCE("src_events"."a11", 0) AS "a11",
    COALESCE("src_events"."a12", 0) AS "a12",
    COALESCE("windowed_a6"."a6", 0) AS "a6",
    COALESCE("windowed_a7"."a7", 0) AS "a7"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."k" = "src_orders"."k"
  LEFT JOIN "src_events"
    ON "universe"."k" = "src_events"."k"
  LEFT JOIN "windowed_a6"
    ON "universe"."k" = "windowed_a6"."k"
  LEFT JOIN "windowed_a7"
    ON "universe"."k" = "windowed_a7"."k"
), "rank_r1" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "a8" AS "v"
    FROM "base"
    WHERE
      NOT "a8" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "layer_1" AS (
  SELECT
    "base".*,
    "rank_r1"."le" AS "r1_le",
    "rank_r1"."n" AS "r1_n",
    CAST(FLOOR(
      CAST((
        1751328000000000 - CAST(EXTRACT(EPOCH FROM "a1") * 1000000 AS BIGINT)
      ) AS DOUBLE PRECISION) / 86400000000.0
    ) AS BIGINT) AS "d_recency",
    "a2" AS "d_frequency",
    COALESCE("a3" >= 1, FALSE) AS "d_recent_buyers",
    COALESCE("a4" > 1000, FALSE) AND COALESCE("p1" IN ('US', 'CA'), FALSE) AS "d_high_value",
    COALESCE("a5" = 2, FALSE) AS "d_april_double_buyers",
    COALESCE("a6" > 2, FALSE) AS "d_pricing_hunters",
    "a7" > 0 AS "d_cart_abandoners",
    CASE
      WHEN COALESCE("a10", 0) > 0
      AND COALESCE("a10", 0) >= COALESCE("a11", 0)
      AND COALESCE("a10", 0) >= COALESCE((
        1.5 * "a12"
      ), 0)
      THEN 'movie_watchers'
      WHEN COALESCE("a11", 0) > 0
      AND COALESCE("a11", 0) > COALESCE("a10", 0)
      AND COALESCE("a11", 0) >= COALESCE((
        1.5 * "a12"
      ), 0)
      THEN 'bingers'
      WHEN COALESCE((
        1.5 * "a12"
      ), 0) > 0
      AND COALESCE((
        1.5 * "a12"
      ), 0) > COALESCE("a10", 0)
      AND COALESCE((
        1.5 * "a12"
      ), 0) > COALESCE("a11", 0)
      THEN 'documentaries'
      ELSE 'unclassified'
    END AS "d_viewing"
  FROM "base"
  LEFT JOIN "rank_r1"
    ON "a8" = "rank_r1"."v"
), "layer_2" AS (
  SELECT
    *,
    COALESCE(CAST("r1_le" AS DOUBLE PRECISION) / "r1_n" > 0.8, FALSE) AS "d_engaged",
    CASE
      WHEN "d_high_value" AND "d_recent_buyers"
      THEN 'vip'
      WHEN COALESCE("d_frequency" >= 3, FALSE) AND COALESCE("d_recency" > 60, FALSE)
      THEN 'at_risk'
      WHEN COALESCE(
        CAST(FLOOR(
          CAST((
            1751328000000000 - CAST(EXTRACT(EPOCH FROM "a9") * 1000000 AS BIGINT)
          ) AS DOUBLE PRECISION) / 86400000000.0
        ) AS BIGINT) <= 30,
        FALSE
      )
      THEN 'new'
      ELSE 'browsers'
    END AS "d_lifecycle"
  FROM "layer_1"
)
SELECT
  "k" AS "customer_id",
  "d_recent_buyers" AS "recent_buyers",
  "d_high_value" AS "high_value",
  "d_april_double_buyers" AS "april_double_buyers",
  "d_pricing_hunters" AS "pricing_hunters",
  "d_cart_abandoners" AS "cart_abandoners",
  "d_engaged" AS "engaged",
  "d_lifecycle" AS "lifecycle",
  "d_viewing" AS "viewing"
FROM "layer_2"
ORDER BY
  "k"
