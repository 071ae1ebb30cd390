-- Formcast task daily_sales · engine spark · env dev · logical date 2024-06-02
SET spark.sql.sources.partitionOverwriteMode = dynamic;
CREATE OR REPLACE TEMPORARY VIEW `shop__orders` (
  `order_id` BIGINT,
  `user_id` BIGINT,
  `product_id` BIGINT,
  `quantity` INT,
  `price` DECIMAL(10, 2),
  `discount` DOUBLE,
  `status` STRING,
  `order_ts` TIMESTAMP,
  `ds` DATE
)
USING parquet
OPTIONS (
  'path' = '/data/dev/shop/orders'
);

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`daily_sales` (
  `period` DATE,
  `status` STRING,
  `orders` BIGINT,
  `paid_orders` BIGINT,
  `revenue` DOUBLE,
  `avg_price` DOUBLE,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/daily_sales';

INSERT OVERWRITE TABLE `mart`.`daily_sales`
PARTITION (`ds` = '2024-06-02')
SELECT
  CAST(DATE_TRUNC('DAY', `orders`.`order_ts`) AS DATE) AS `period`,
  `orders`.`status` AS `status`,
  COUNT(*) AS `orders`,
  COUNT(*) FILTER(WHERE
    `orders`.`status` = 'paid') AS `paid_orders`,
  CAST(SUM(`orders`.`price` * `orders`.`quantity` * (
    1 - `orders`.`discount`
  )) AS DOUBLE) AS `revenue`,
  AVG(`orders`.`price`) AS `avg_price`
FROM `shop__orders` AS `orders`
WHERE
  `orders`.`ds` = '2024-06-02'
GROUP BY
  CAST(DATE_TRUNC('DAY', `orders`.`order_ts`) AS DATE),
  `orders`.`status`
HAVING
  COUNT(*) > 10
  AND SUM(`orders`.`price` * `orders`.`quantity` * (
    1 - `orders`.`discount`
  )) > 0;
