WITH `universe` AS (
  SELECT
    `customer_id` AS `customer_id`,
    `consent_marketing` AS `consent_marketing`
  FROM `customers`
  WHERE
    NOT `customer_id` IS NULL
    AND (
      `signup_at` IS NULL OR `signup_at` <= CAST('2025-07-01 00:00:00+00' AS TIMESTAMP)
    )
    AND `consent_marketing` = TRUE
), `src_orders` AS (
  SELECT
    `customer_id` AS `customer_id`,
    MAX(`ordered_at`) AS `orders_last_ordered_at`, /* used by recency_y (lifecycle.yml:10) */
    COUNT(CASE WHEN `ordered_at` > CAST('2025-06-01 00:00:00+00' AS TIMESTAMP) THEN 1 END) AS `orders_count_last_30_days`, /* used by recent_buyers_y (lifecycle.yml:12) */
    SUM(
      CASE
        WHEN `ordered_at` > CAST('2025-04-02 00:00:00+00' AS TIMESTAMP)
        THEN `amount`
      END
    ) AS `orders_sum_amount_last_90_days` /* used by high_value_y (lifecycle.yml:16) */
  FROM `orders`
  WHERE
    NOT `customer_id` IS NULL
    AND `ordered_at` <= CAST('2025-07-01 00:00:00+00' AS TIMESTAMP)
  GROUP BY
    `customer_id`
), `base` AS (
  SELECT
    `universe`.`customer_id`,
    `universe`.`consent_marketing`,
    `src_orders`.`orders_last_ordered_at` AS `orders_last_ordered_at`,
    COALESCE(`src_orders`.`orders_count_last_30_days`, 0) AS `orders_count_last_30_days`,
    COALESCE(`src_orders`.`orders_sum_amount_last_90_days`, 0) AS `orders_sum_amount_last_90_days`
  FROM `universe`
  LEFT JOIN `src_orders`
    ON `universe`.`customer_id` = `src_orders`.`customer_id`
), `layer_1` AS (
  SELECT
    *,
    CAST(FLOOR((
      1751328000000000 - UNIX_MICROS(`orders_last_ordered_at`)
    ) / 86400000000.0) AS INT64) AS `recency_y`,
    COALESCE(`orders_count_last_30_days` >= 1, FALSE) AS `recent_buyers_y`,
    COALESCE(`orders_sum_amount_last_90_days` > 1000, FALSE) AS `high_value_y`
  FROM `base`
), `layer_2` AS (
  SELECT
    *,
    CASE
      WHEN `high_value_y` AND `recent_buyers_y`
      THEN 'vip_y'
      WHEN COALESCE(`recency_y` > 60, FALSE)
      THEN 'at_risk_y'
      ELSE 'browsers_y'
    END AS `lifecycle_y`
  FROM `layer_1`
)
SELECT
  `customer_id` AS `customer_id`,
  `recent_buyers_y` AS `recent_buyers_y`, /* segment recent_buyers_y (lifecycle.yml:12) */
  `high_value_y` AS `high_value_y`, /* segment high_value_y (lifecycle.yml:13) */
  `lifecycle_y` AS `lifecycle_y` /* segmentation lifecycle_y (lifecycle.yml:18) */
FROM `layer_2`
ORDER BY
  `customer_id`
