-- Formcast task order_values · engine spark · env dev · logical date 2024-06-02
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
CREATE TABLE IF NOT EXISTS `mart`.`order_values` (
  `order_id` BIGINT,
  `status` STRING,
  `gross` DOUBLE,
  `net` DOUBLE,
  `net_rank` INT,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/order_values';

INSERT OVERWRITE TABLE `mart`.`order_values`
PARTITION (`ds` = '2024-06-02')
WITH `__fc_out` AS (
  SELECT
    `orders`.`order_id` AS `order_id`,
    `orders`.`status` AS `status`,
    `orders`.`price` * `orders`.`quantity` AS `gross`,
    `orders`.`price` * `orders`.`quantity` * (
      1 - `orders`.`discount`
    ) AS `net`,
    RANK() OVER (
      PARTITION BY `orders`.`status`
      ORDER BY (
        (
          `orders`.`price` * `orders`.`quantity`
        ) * (
          1 - `orders`.`discount`
        )
      ) DESC
    ) AS `net_rank`
  FROM `shop__orders` AS `orders`
  WHERE
    `orders`.`ds` = '2024-06-02' AND `orders`.`status` <> 'cancelled'
  ORDER BY
    `net` DESC
  LIMIT 100
)
SELECT
  `__fc_out`.`order_id` AS `order_id`,
  `__fc_out`.`status` AS `status`,
  CAST(`__fc_out`.`gross` AS DOUBLE) AS `gross`,
  CAST(`__fc_out`.`net` AS DOUBLE) AS `net`,
  `__fc_out`.`net_rank` AS `net_rank`
FROM `__fc_out` AS `__fc_out`;
