-- Formcast task orders_copy · engine spark · env dev · logical date 2024-06-02
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
CREATE TABLE IF NOT EXISTS `mart`.`orders_copy` (
  `order_id` BIGINT,
  `user_id` BIGINT,
  `amount` DECIMAL(10, 2),
  `status` STRING,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/orders_copy';

INSERT OVERWRITE TABLE `mart`.`orders_copy`
PARTITION (`ds` = '2024-06-02')
SELECT
  `orders`.`order_id` AS `order_id`,
  `orders`.`user_id` AS `user_id`,
  CAST(`orders`.`price` * `orders`.`quantity` AS DECIMAL(10, 2)) AS `amount`,
  `orders`.`status` AS `status`
FROM `shop__orders` AS `orders`
WHERE
  `orders`.`ds` = '2024-06-02' AND `orders`.`status` <> 'test';
