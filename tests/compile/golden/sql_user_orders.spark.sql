-- Formcast task user_orders · engine spark · env dev · logical date 2024-06-02
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
CREATE TABLE IF NOT EXISTS `mart`.`user_orders` (
  `user_id` BIGINT,
  `orders` BIGINT,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/user_orders';

INSERT OVERWRITE TABLE `mart`.`user_orders`
PARTITION (`ds` = '2024-06-02')
SELECT
  `orders`.`user_id` AS `user_id`,
  COUNT(*) AS `orders`
FROM `shop__orders` AS `orders`
WHERE
  `orders`.`ds` = '2024-06-02' AND `orders`.`status` <> 'test'
GROUP BY
  `orders`.`user_id`;
