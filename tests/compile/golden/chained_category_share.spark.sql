-- Formcast task category_share · engine spark · env dev · logical date 2024-06-02
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

CREATE OR REPLACE TEMPORARY VIEW `shop__products` (
  `product_id` BIGINT,
  `title` STRING,
  `category` STRING,
  `brand` STRING,
  `list_price` DECIMAL(10, 2)
)
USING parquet
OPTIONS (
  'path' = '/data/dev/shop/products'
);

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`category_share` (
  `category` STRING,
  `revenue` DOUBLE,
  `share` DOUBLE,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/category_share';

INSERT OVERWRITE TABLE `mart`.`category_share`
PARTITION (`ds` = '2024-06-02')
WITH `by_category` AS (
  SELECT
    `p`.`category` AS `category`,
    SUM(`src`.`price` * `src`.`quantity`) AS `revenue`
  FROM `shop__orders` AS `src`
  LEFT JOIN `shop__products` AS `p`
    ON `p`.`product_id` = `src`.`product_id`
  WHERE
    `src`.`ds` = '2024-06-02'
  GROUP BY
    `p`.`category`
), `shares` AS (
  SELECT
    `by_category`.`category` AS `category`,
    `by_category`.`revenue` AS `revenue`,
    `by_category`.`revenue` / SUM(`by_category`.`revenue`) OVER () AS `share`
  FROM `by_category` AS `by_category`
  ORDER BY
    `revenue` DESC
  LIMIT 10
)
SELECT
  `shares`.`category` AS `category`,
  CAST(`shares`.`revenue` AS DOUBLE) AS `revenue`,
  CAST(`shares`.`share` AS DOUBLE) AS `share`
FROM `shares` AS `shares`;
