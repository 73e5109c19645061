WITH `universe` AS (
  SELECT
    `customer_id` AS `customer_id`,
    `consent_marketing` AS `consent_marketing`
  FROM `customers`
  WHERE
    NOT `customer_id` IS NULL
    AND (
      `signup_at` IS NULL OR `signup_at` <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
    )
    AND `consent_marketing` = TRUE
), `src_orders` AS (
  SELECT
    `customer_id` AS `customer_id`,
    COUNT(CASE WHEN `ordered_at` > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN 1 END) AS `orders_count_last_365_days`, /* used by frequency (language.seg:7) */
    SUM(
      CASE WHEN `ordered_at` > CAST('2024-07-01 00:00:00' AS TIMESTAMP) THEN `amount` END
    ) AS `orders_sum_amount_last_365_days`, /* used by monetary (language.seg:8) */
    MAX(`ordered_at`) AS `orders_last_ordered_at` /* used by recency (language.seg:6) */
  FROM `orders`
  WHERE
    NOT `customer_id` IS NULL
    AND `ordered_at` <= CAST('2025-07-01 00:00:00' AS TIMESTAMP)
  GROUP BY
    `customer_id`
), `base` AS (
  SELECT
    `universe`.`customer_id`,
    `universe`.`consent_marketing`,
    COALESCE(`src_orders`.`orders_count_last_365_days`, 0) AS `orders_count_last_365_days`,
    COALESCE(`src_orders`.`orders_sum_amount_last_365_days`, 0) AS `orders_sum_amount_last_365_days`,
    `src_orders`.`orders_last_ordered_at` AS `orders_last_ordered_at`
  FROM `universe`
  LEFT JOIN `src_orders`
    ON `universe`.`customer_id` = `src_orders`.`customer_id`
), `layer_1` AS (
  SELECT
    *,
    `orders_count_last_365_days` AS `frequency`,
    `orders_sum_amount_last_365_days` AS `monetary`,
    CAST(FLOOR((
      1751328000000000 - UNIX_MICROS(`orders_last_ordered_at`)
    ) / 86400000000.0) AS BIGINT) AS `recency`
  FROM `base`
), `rank_recency` AS (
  SELECT
    `v`,
    CAST(SUM(COUNT(*)) OVER (ORDER BY `v` ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS `le`,
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS `n`
  FROM (
    SELECT
      `recency` AS `v`
    FROM `layer_1`
    WHERE
      NOT `recency` IS NULL
  ) AS `rank_values`
  GROUP BY
    `v`
), `rank_frequency` AS (
  SELECT
    `v`,
    CAST(SUM(COUNT(*)) OVER (ORDER BY `v` ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS `le`,
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS `n`
  FROM (
    SELECT
      `frequency` AS `v`
    FROM `layer_1`
    WHERE
      NOT `frequency` IS NULL
  ) AS `rank_values`
  GROUP BY
    `v`
), `rank_monetary` AS (
  SELECT
    `v`,
    CAST(SUM(COUNT(*)) OVER (ORDER BY `v` ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS `le`,
    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS `n`
  FROM (
    SELECT
      `monetary` AS `v`
    FROM `layer_1`
    WHERE
      NOT `monetary` IS NULL
  ) AS `rank_values`
  GROUP BY
    `v`
), `layer_2` AS (
  SELECT
    `layer_1`.*,
    `rank_recency`.`le` AS `rank_recency_le`,
    `rank_recency`.`n` AS `rank_recency_n`,
    `rank_frequency`.`le` AS `rank_frequency_le`,
    `rank_frequency`.`n` AS `rank_frequency_n`,
    `rank_monetary`.`le` AS `rank_monetary_le`,
    `rank_monetary`.`n` AS `rank_monetary_n`
  FROM `layer_1`
  LEFT JOIN `rank_recency`
    ON `recency` = `rank_recency`.`v`
  LEFT JOIN `rank_frequency`
    ON `frequency` = `rank_frequency`.`v`
  LEFT JOIN `rank_monetary`
    ON `monetary` = `rank_monetary`.`v`
), `layer_3` AS (
  SELECT
    *,
    POWER(
      (
        (
          CAST(CAST(`rank_recency_le` AS DOUBLE) / `rank_recency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.23766888485581772
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_frequency_le` AS DOUBLE) / `rank_frequency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.8740340434419381
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_monetary_le` AS DOUBLE) / `rank_monetary_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.8651315789473684
      ),
      2
    ) AS `personas_distance_1`,
    POWER(
      (
        (
          CAST(CAST(`rank_recency_le` AS DOUBLE) / `rank_recency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.7915369748753942
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_frequency_le` AS DOUBLE) / `rank_frequency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.5902865571007162
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_monetary_le` AS DOUBLE) / `rank_monetary_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.5141171512852929
      ),
      2
    ) AS `personas_distance_2`,
    POWER(
      (
        (
          CAST(CAST(`rank_recency_le` AS DOUBLE) / `rank_recency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.7003269007697985
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_frequency_le` AS DOUBLE) / `rank_frequency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.808172236784622
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_monetary_le` AS DOUBLE) / `rank_monetary_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.7870249017038008
      ),
      2
    ) AS `personas_distance_3`,
    POWER(
      (
        (
          CAST(CAST(`rank_recency_le` AS DOUBLE) / `rank_recency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.27530477185649604
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_frequency_le` AS DOUBLE) / `rank_frequency_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.5676557239057237
      ),
      2
    ) + POWER(
      (
        (
          CAST(CAST(`rank_monetary_le` AS DOUBLE) / `rank_monetary_n` AS DOUBLE) - 0.0
        ) / 1.0 - 0.5257034632034632
      ),
      2
    ) AS `personas_distance_4`
  FROM `layer_2`
), `layer_4` AS (
  SELECT
    *,
    CASE
      WHEN `personas_distance_1` IS NULL
      THEN 'never_bought'
      WHEN `personas_distance_1` <= `personas_distance_2`
      AND `personas_distance_1` <= `personas_distance_3`
      AND `personas_distance_1` <= `personas_distance_4`
      THEN 'best_customers'
      WHEN `personas_distance_2` <= `personas_distance_3`
      AND `personas_distance_2` <= `personas_distance_4`
      THEN 'lapsing'
      WHEN `personas_distance_3` <= `personas_distance_4`
      THEN 'fading_big_spenders'
      ELSE 'recent_casuals'
    END AS `personas`
  FROM `layer_3`
)
SELECT
  `customer_id` AS `customer_id`,
  `personas` AS `personas` /* segmentation personas (personas.seg:7) */
FROM `layer_4`
ORDER BY
  `customer_id`
