-- Formcast task orders_latest · engine spark · env dev · logical date 2024-06-02
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
CREATE TABLE IF NOT EXISTS `mart`.`orders_latest` (
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
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/orders_latest';

INSERT OVERWRITE TABLE `mart`.`orders_latest`
PARTITION (`ds` = '2024-06-02')
WITH `__fc_ranked` AS (
  SELECT
    `orders`.`order_id` AS `order_id`,
    `orders`.`user_id` AS `user_id`,
    `orders`.`product_id` AS `product_id`,
    `orders`.`quantity` AS `quantity`,
    `orders`.`price` AS `price`,
    `orders`.`discount` AS `discount`,
    `orders`.`status` AS `status`,
    `orders`.`order_ts` AS `order_ts`,
    ROW_NUMBER() OVER (PARTITION BY `orders`.`order_id` ORDER BY `orders`.`order_ts` DESC) AS `__fc_row`
  FROM `shop__orders` AS `orders`
  WHERE
    `orders`.`ds` = '2024-06-02'
)
SELECT
  `__fc_ranked`.`order_id` AS `order_id`,
  `__fc_ranked`.`user_id` AS `user_id`,
  `__fc_ranked`.`product_id` AS `product_id`,
  `__fc_ranked`.`quantity` AS `quantity`,
  `__fc_ranked`.`price` AS `price`,
  `__fc_ranked`.`discount` AS `discount`,
  `__fc_ranked`.`status` AS `status`,
  `__fc_ranked`.`order_ts` AS `order_ts`
FROM `__fc_ranked` AS `__fc_ranked`
WHERE
  `__fc_ranked`.`__fc_row` = 1;
