WITH "universe" AS (
  SELECT
    "customer_id" AS "k",
    "device" AS "p1",
    "consent_marketing" AS "p2"
  FROM "customers"
  WHERE
    NOT "customer_id" IS NULL AND "consent_marketing" = TRUE
), "src_orders" AS (
  SELECT
    "customer_id" AS "k",
    COUNT(*) AS "a3",
    COUNT(CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a8",
    SUM(
      CASE WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN "amount" END
    ) AS "a9",
    SUM(
      CASE
        WHEN "ordered_at" >= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        AND "ordered_at" < CAST('2025-07-01 00:00:00' AS TIMESTAMP)
        THEN "amount"
      END
    ) AS "a10",
    SUM(
      CASE
        WHEN "ordered_at" >= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
        THEN "amount"
      END
    ) AS "a11",
    SUM(
      CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN "amount" END
    ) AS "a12",
    SUM(
      CASE
        WHEN "ordered_at" > CAST('2025-05-02 00:00:00' AS TIMESTAMP)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        THEN "amount"
      END
    ) AS "a13",
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-05-02 00:00:00' AS TIMESTAMP)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        THEN 1
      END
    ) AS "a14",
    COUNT(CASE WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a15",
    AVG(
      CASE
        WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP)
        THEN "quantity"
      END
    ) AS "a16",
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP)
        AND "ordered_at" <= CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        THEN 1
      END
    ) AS "a17",
    MAX("ordered_at") AS "a18",
    COUNT(CASE WHEN "ordered_at" <= CAST('2025-01-02 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a19",
    COUNT(CASE WHEN "ordered_at" > CAST('2025-01-02 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a20",
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP)
        AND EXTRACT(ISODOW FROM "ordered_at") >= 6
        THEN 1
      END
    ) AS "a24",
    COUNT(
      CASE
        WHEN "ordered_at" > CAST('2024-07-01 00:00:00' AS TIMESTAMP)
        AND "sku" IN ('SKU-0001', 'SKU-0002')
        THEN 1
      END
    ) AS "a27",
    MIN("ordered_at") AS "a28"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "src_events" AS (
  SELECT
    "customer_id" AS "k",
    COUNT(CASE WHEN "occurred_at" > CAST('2025-06-24 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a1",
    COUNT(CASE WHEN "occurred_at" <= CAST('2025-06-24 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a2",
    SUM(
      POWER(
        0.5,
        LEAST(
          CAST((
            1751328000000000 - CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT)
          ) AS DOUBLE PRECISION) / 1209600000000,
          1000
        )
      )
    ) AS "a22",
    COUNT(
      CASE
        WHEN "occurred_at" > CAST('2025-03-03 00:00:00' AS TIMESTAMP)
        AND "occurred_at" <= CAST('2025-05-02 00:00:00' AS TIMESTAMP)
        THEN 1
      END
    ) AS "a23",
    COUNT(
      CASE
        WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
        AND (
          EXTRACT(HOUR FROM "occurred_at") >= 22 OR EXTRACT(HOUR FROM "occurred_at") < 5
        )
        THEN 1
      END
    ) AS "a25",
    COUNT(CASE WHEN "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a26",
    COUNT(CASE WHEN "occurred_at" > CAST('2025-04-02 00:00:00' AS TIMESTAMP) THEN 1 END) AS "a29"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    "customer_id"
), "distinct_a21" AS (
  SELECT
    "k",
    COUNT(*) AS "a21"
  FROM (
    SELECT
      "k"
    FROM (
      SELECT
        "customer_id" AS "k",
        CAST("occurred_at" AS DATE) AS "v"
      FROM "web_events"
      WHERE
        NOT "customer_id" IS NULL
        AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
        AND NOT CAST("occurred_at" AS DATE) IS NULL
        AND (
          "occurred_at" > CAST('2025-06-03 00:00:00' AS TIMESTAMP)
        )
    ) AS "distinct_rows"
    GROUP BY
      "k",
      "v"
  ) AS "pairs"
  GROUP BY
    "k"
), "windowed_a4_rows" AS (
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT) AS "us",
    "sku" AS "on",
    CASE
      WHEN "name" = 'add_to_cart'
      AND NOT "sku" IS NULL
      AND "occurred_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMP)
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
      AND NOT "sku" IS NULL
      AND "occurred_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMP)
    )
  UNION ALL
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "ordered_at") * 1000000 AS BIGINT) AS "us",
    "sku" AS "on",
    0 AS "s1",
    CASE
      WHEN NOT "sku" IS NULL AND "ordered_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMP)
      THEN 1
      ELSE 0
    END AS "s2"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      NOT "sku" IS NULL AND "ordered_at" > CAST('2025-06-17 00:00:00' AS TIMESTAMP)
    )
), "windowed_a4_1" AS (
  SELECT
    *,
    MAX(CASE WHEN "s2" = 1 THEN "us" END) OVER (
      PARTITION BY "k", "on"
      ORDER BY "us" ASC NULLS FIRST
      RANGE BETWEEN 1 FOLLOWING AND 172800000000 FOLLOWING
    ) AS "c"
  FROM "windowed_a4_rows"
), "windowed_a4" AS (
  SELECT
    "k",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > CAST(EXTRACT(EPOCH FROM CAST('2025-06-17 00:00:00' AS TIMESTAMP)) * 1000000 AS BIGINT)
        AND "us" + 172800000000 <= 1751328000000000
        AND "c" IS NULL
        THEN 1
        ELSE 0
      END
    ) AS "a4"
  FROM "windowed_a4_1"
  GROUP BY
    "k"
), "windowed_a5_rows" AS (
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT) AS "us",
    "sku" AS "on",
    CASE WHEN "name" = 'view' AND NOT "sku" IS NULL THEN 1 ELSE 0 END AS "s1",
    0 AS "s2"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      "name" = 'view' AND NOT "sku" IS NULL
    )
  UNION ALL
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "ordered_at") * 1000000 AS BIGINT) AS "us",
    "sku" AS "on",
    0 AS "s1",
    CASE WHEN NOT "sku" IS NULL THEN 1 ELSE 0 END AS "s2"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      NOT "sku" IS NULL
    )
), "windowed_a5_1" AS (
  SELECT
    *,
    MAX(CASE WHEN "s2" = 1 THEN "us" END) OVER (
      PARTITION BY "k", "on"
      ORDER BY "us" ASC NULLS FIRST
      RANGE BETWEEN 1 FOLLOWING AND 172800000000 FOLLOWING
    ) AS "c"
  FROM "windowed_a5_rows"
), "windowed_a5" AS (
  SELECT
    "k",
    MAX(
      CASE
        WHEN "s1" = 1 AND "us" + 172800000000 <= 1751328000000000 AND "c" IS NULL
        THEN 1
        ELSE 0
      END
    ) AS "a5"
  FROM "windowed_a5_1"
  GROUP BY
    "k"
), "windowed_a6_rows" AS (
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "occurred_at") * 1000000 AS BIGINT) AS "us",
    CASE
      WHEN "name" = 'view' AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
      THEN 1
      ELSE 0
    END AS "s1",
    CASE
      WHEN "name" = 'add_to_cart'
      AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
      THEN 1
      ELSE 0
    END AS "s2",
    0 AS "s3"
  FROM "web_events"
  WHERE
    NOT "customer_id" IS NULL
    AND "occurred_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      (
        "name" = 'view' AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
      )
      OR (
        "name" = 'add_to_cart'
        AND "occurred_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
      )
    )
  UNION ALL
  SELECT
    "customer_id" AS "k",
    CAST(EXTRACT(EPOCH FROM "ordered_at") * 1000000 AS BIGINT) AS "us",
    0 AS "s1",
    0 AS "s2",
    CASE WHEN "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP) THEN 1 ELSE 0 END AS "s3"
  FROM "orders"
  WHERE
    NOT "customer_id" IS NULL
    AND "ordered_at" <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    AND (
      "ordered_at" > CAST('2025-06-01 00:00:00' AS TIMESTAMP)
    )
), "windowed_a6_1" AS (
  SELECT
    *,
    CASE
      WHEN "s2" = 1
      THEN MIN(CASE WHEN "s3" = 1 THEN "us" END) OVER (
        PARTITION BY "k"
        ORDER BY "us" DESC NULLS LAST
        RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      )
    END AS "r2"
  FROM "windowed_a6_rows"
), "windowed_a6_2" AS (
  SELECT
    *,
    MIN("r2") OVER (
      PARTITION BY "k"
      ORDER BY "us" DESC NULLS LAST
      RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS "r"
  FROM "windowed_a6_1"
), "windowed_a6" AS (
  SELECT
    "k",
    MAX(
      CASE
        WHEN "s1" = 1
        AND "us" > CAST(EXTRACT(EPOCH FROM CAST('2025-06-01 00:00:00' AS TIMESTAMP)) * 1000000 AS BIGINT)
        AND "r" <= "us" + 604800000000
        THEN 1
        ELSE 0
      END
    ) AS "a6"
  FROM "windowed_a6_2"
  GROUP BY
    "k"
), "windowed_a7_rows" AS (
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
), "windowed_a7_1" AS (
  SELECT
    *,
    LEAD("us", 2) OVER (PARTITION BY "k" ORDER BY "us" ASC NULLS FIRST) AS "n3"
  FROM "windowed_a7_rows"
), "windowed_a7" AS (
  SELECT
    "k",
    MAX(CASE WHEN "n3" - "us" <= 86400000000 THEN 3 ELSE 0 END) AS "a7"
  FROM "windowed_a7_1"
  GROUP BY
    "k"
), "base" AS (
  SELECT
    "universe"."k",
    "universe"."p1",
    "universe"."p2",
    COALESCE("src_orders"."a3", 0) AS "a3",
    COALESCE("src_orders"."a8", 0) AS "a8",
    COALESCE("src_orders"."a9", 0) AS "a9",
    COALESCE("src_orders"."a10", 0) AS "a10",
    COALESCE("src_orders"."a11", 0) AS "a11",
    COALESCE("src_orders"."a12", 0) AS "a12",
    COALESCE("src_orders"."a13", 0) AS "a13",
    COALESCE("src_orders"."a14", 0) AS "a14",
    COALESCE("src_orders"."a15", 0) AS "a15",
    "src_orders"."a16" AS "a16",
    COALESCE("src_orders"."a17", 0) AS "a17",
    "src_orders"."a18" AS "a18",
    COALESCE("src_orders"."a19", 0) AS "a19",
    COALESCE("src_orders"."a20", 0) AS "a20",
    COALESCE("src_orders"."a24", 0) AS "a24",
    COALESCE("src_orders"."a27", 0) AS "a27",
    "src_orders"."a28" AS "a28",
    COALESCE("src_events"."a1", 0) AS "a1",
    COALESCE("src_events"."a2", 0) AS "a2",
    COALESCE("src_events"."a22", 0) AS "a22",
    COALESCE("src_events"."a23", 0) AS "a23",
    COALESCE("src_events"."a25", 0) AS "a25",
    COALESCE("src_events"."a26", 0) AS "a26",
    COALESCE("src_events"."a29", 0) AS "a29",
    COALESCE("distinct_a21"."a21", 0) AS "a21",
    COALESCE("windowed_a4"."a4", 0) AS "a4",
    COALESCE("windowed_a5"."a5", 0) AS "a5",
    COALESCE("windowed_a6"."a6", 0) AS "a6",
    COALESCE("windowed_a7"."a7", 0) AS "a7"
  FROM "universe"
  LEFT JOIN "src_orders"
    ON "universe"."k" = "src_orders"."k"
  LEFT JOIN "src_events"
    ON "universe"."k" = "src_events"."k"
  LEFT JOIN "distinct_a21"
    ON "universe"."k" = "distinct_a21"."k"
  LEFT JOIN "windowed_a4"
    ON "universe"."k" = "windowed_a4"."k"
  LEFT JOIN "windowed_a5"
    ON "universe"."k" = "windowed_a5"."k"
  LEFT JOIN "windowed_a6"
    ON "universe"."k" = "windowed_a6"."k"
  LEFT JOIN "windowed_a7"
    ON "universe"."k" = "windowed_a7"."k"
), "layer_1" AS (
  SELECT
    *,
    (
      "a1" > 0 AND NOT (
        "a2" > 0
      )
    ) AND NOT (
      "a3" > 0
    ) AS "d_first_time_visitors",
    "a4" > 0 AS "d_product_cart_abandoners",
    "a5" > 0 AS "d_viewed_not_bought",
    "a6" > 0 AS "d_funnel_completers",
    COALESCE("a7" >= 3, FALSE) AND NOT (
      "a8" > 0
    ) AS "d_deal_seekers",
    "a9" AS "d_monetary",
    COALESCE("a8" >= 1, FALSE) AS "d_recent_buyers",
    "a10" AS "d_spend_last_month",
    "a11" AS "d_spend_this_year",
    COALESCE("a12" > "a13", FALSE) AND "a14" > 0 AS "d_growing_spenders",
    "a15" AS "d_frequency",
    "a17" > 0 AND NOT (
      "a8" > 0
    ) AS "d_lapsing_customers",
    NOT (
      COALESCE(
        CAST(FLOOR(
          CAST((
            1751328000000000 - CAST(EXTRACT(EPOCH FROM "a18") * 1000000 AS BIGINT)
          ) AS DOUBLE PRECISION) / 86400000000.0
        ) AS BIGINT) < 30,
        FALSE
      )
    ) AS "d_not_recent_buyers",
    "a19" > 0 AND NOT (
      "a20" > 0
    ) AS "d_dormant_buyers",
    COALESCE("a21" >= 10, FALSE) AS "d_regulars",
    "a22" AS "d_engagement",
    COALESCE("p1" = 'mobile', FALSE) AND COALESCE("a24" >= 2, FALSE) AS "d_mobile_weekend_shoppers",
    COALESCE("a25" > CAST("a26" AS DOUBLE PRECISION) / NULLIF(2, 0), FALSE) AS "d_night_owls",
    COALESCE("a27" >= 3, FALSE) AS "d_sku_loyalists",
    CAST(FLOOR(
      CAST((
        1751328000000000 - CAST(EXTRACT(EPOCH FROM "a18") * 1000000 AS BIGINT)
      ) AS DOUBLE PRECISION) / 86400000000.0
    ) AS BIGINT) AS "d_recency"
  FROM "base"
), "rank_r1" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "d_monetary" AS "v"
    FROM "layer_1"
    WHERE
      NOT "d_monetary" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "rank_r2" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      -(
        "d_recency"
      ) AS "v"
    FROM "layer_1"
    WHERE
      NOT -(
        "d_recency"
      ) IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "rank_r3" AS (
  SELECT
    "v",
    CAST(SUM(COUNT(*)) OVER (ORDER BY "v" ASC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS "le",
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS "n"
  FROM (
    SELECT
      "d_frequency" AS "v"
    FROM "layer_1"
    WHERE
      NOT "d_frequency" IS NULL
  ) AS "rank_values"
  GROUP BY
    "v"
), "layer_2" AS (
  SELECT
    "layer_1".*,
    "rank_r1"."le" AS "r1_le",
    "rank_r1"."n" AS "r1_n",
    "rank_r2"."le" AS "r2_le",
    "rank_r2"."n" AS "r2_n",
    "rank_r3"."le" AS "r3_le",
    "rank_r3"."n" AS "r3_n",
    (
      COALESCE("d_spend_last_month" >= 300, FALSE)
      OR COALESCE("d_spend_this_year" >= 2000, FALSE)
    ) AS "d_big_spenders_last_month",
    COALESCE("a16" >= 2.5, FALSE) AND COALESCE("d_frequency" >= 2, FALSE) AS "d_bulk_buyers",
    COALESCE("d_engagement" < 1, FALSE) AND COALESCE("a23" >= 10, FALSE) AS "d_cooling_down"
  FROM "layer_1"
  LEFT JOIN "rank_r1"
    ON "d_monetary" = "rank_r1"."v"
  LEFT JOIN "rank_r2"
    ON -(
      "d_recency"
    ) = "rank_r2"."v"
  LEFT JOIN "rank_r3"
    ON "d_frequency" = "rank_r3"."v"
), "layer_3" AS (
  SELECT
    *,
    "d_recent_buyers"
    AND COALESCE(CAST("r1_le" AS DOUBLE PRECISION) / "r1_n" > 0.9, FALSE) AS "d_recent_high_value_buyers",
    CASE
      WHEN "r2_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "r2_le" <= 1 * "r2_n"
        THEN 1
        WHEN 5 * "r2_le" <= 2 * "r2_n"
        THEN 2
        WHEN 5 * "r2_le" <= 3 * "r2_n"
        THEN 3
        WHEN 5 * "r2_le" <= 4 * "r2_n"
        THEN 4
        ELSE 5
      END
    END AS "d_r_score",
    CASE
      WHEN "r3_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "r3_le" <= 1 * "r3_n"
        THEN 1
        WHEN 5 * "r3_le" <= 2 * "r3_n"
        THEN 2
        WHEN 5 * "r3_le" <= 3 * "r3_n"
        THEN 3
        WHEN 5 * "r3_le" <= 4 * "r3_n"
        THEN 4
        ELSE 5
      END
    END AS "d_f_score",
    CASE
      WHEN "r1_le" IS NULL
      THEN NULL
      ELSE CASE
        WHEN 5 * "r1_le" <= 1 * "r1_n"
        THEN 1
        WHEN 5 * "r1_le" <= 2 * "r1_n"
        THEN 2
        WHEN 5 * "r1_le" <= 3 * "r1_n"
        THEN 3
        WHEN 5 * "r1_le" <= 4 * "r1_n"
        THEN 4
        ELSE 5
      END
    END AS "d_m_score"
  FROM "layer_2"
), "layer_4" AS (
  SELECT
    *,
    (
      COALESCE("d_r_score" >= 4, FALSE) AND COALESCE("d_f_score" >= 4, FALSE)
    )
    AND COALESCE("d_m_score" >= 4, FALSE) AS "d_rfm_champions",
    COALESCE("d_r_score" <= 2, FALSE)
    AND (
      COALESCE("d_f_score" >= 4, FALSE) OR COALESCE("d_m_score" >= 4, FALSE)
    ) AS "d_rfm_at_risk"
  FROM "layer_3"
), "layer_5" AS (
  SELECT
    *,
    CASE
      WHEN "d_rfm_champions"
      THEN 'champions'
      WHEN (
        "d_lapsing_customers" OR "d_rfm_at_risk"
      )
      THEN 'slipping'
      WHEN "d_dormant_buyers"
      THEN 'gone_quiet'
      WHEN (
        "d_first_time_visitors"
        OR COALESCE(
          CAST(FLOOR(
            CAST((
              1751328000000000 - CAST(EXTRACT(EPOCH FROM "a28") * 1000000 AS BIGINT)
            ) AS DOUBLE PRECISION) / 86400000000.0
          ) AS BIGINT) <= 30,
          FALSE
        )
      )
      THEN 'newcomers'
      WHEN "a15" > 0
      THEN 'active_buyers'
      WHEN "a29" > 0
      THEN 'window_shoppers'
      ELSE 'prospects'
    END AS "d_journey"
  FROM "layer_4"
)
SELECT
  "k" AS "customer_id",
  "d_first_time_visitors" AS "first_time_visitors",
  "d_product_cart_abandoners" AS "product_cart_abandoners",
  "d_viewed_not_bought" AS "viewed_not_bought",
  "d_funnel_completers" AS "funnel_completers",
  "d_deal_seekers" AS "deal_seekers",
  "d_recent_high_value_buyers" AS "recent_high_value_buyers",
  "d_growing_spenders" AS "growing_spenders",
  "d_big_spenders_last_month" AS "big_spenders_last_month",
  "d_bulk_buyers" AS "bulk_buyers",
  "d_lapsing_customers" AS "lapsing_customers",
  "d_not_recent_buyers" AS "not_recent_buyers",
  "d_dormant_buyers" AS "dormant_buyers",
  "d_regulars" AS "regulars",
  "d_cooling_down" AS "cooling_down",
  "d_mobile_weekend_shoppers" AS "mobile_weekend_shoppers",
  "d_night_owls" AS "night_owls",
  "d_sku_loyalists" AS "sku_loyalists",
  "d_rfm_champions" AS "rfm_champions",
  "d_rfm_at_risk" AS "rfm_at_risk",
  "d_journey" AS "journey"
FROM "layer_5"
ORDER BY
  "k"
