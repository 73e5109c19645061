WITH "universe" AS (
  SELECT
    "customer_id" AS "k",
    "consent_marketing" AS "p1"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL AND "consent_marketing" = TRUE
), "src_orders" AS (
  SELECT
    "customer_id" AS "k",
    MAX("ordered_at") AS "a1",
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a2",
    SUM(
      CASE WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN "amount" END
    ) AS "a3"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "base" AS (
  SELECT
    "universe"."k",
    "universe"."p1",
    "src_orders"."a1" AS "a1",
    COALESCE("src_orders"."a2", 0) AS "a2",
    COALESCE("src_orders"."a3", 0) AS "a3"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."k" = "src_orders"."k"
), "layer_1" AS (
  SELECT
    *,
    CAST(FLOOR(
      CAST((
        1751328000000000 - CAST(EXTRACT(EPOCH FROM "a1") * 1000000 AS BIGINT)
      ) AS DOUBLE PRECISION) / 86400000000.0
    ) AS BIGINT) AS "d_recency_y",
    COALESCE("a2" >= 1, FALSE) AS "d_recent_buyers_y",
    COALESCE("a3" > 1000, FALSE) AS "d_high_value_y"
  FROM "base"
), "layer_2" AS (
  SELECT
    *,
    CASE
      WHEN "d_high_value_y" AND "d_recent_buyers_y"
      THEN 'vip_y'
      WHEN COALESCE("d_recency_y" > 60, FALSE)
      THEN 'at_risk_y'
      ELSE 'browsers_y'
    END AS "d_lifecycle_y"
  FROM "layer_1"
)
SELECT
  "k" AS "customer_id",
  "d_recent_buyers_y" AS "recent_buyers_y",
  "d_high_value_y" AS "high_value_y",
  "d_lifecycle_y" AS "lifecycle_y"
FROM "layer_2"
ORDER BY
  "k"
