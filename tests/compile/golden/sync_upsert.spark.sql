-- Formcast task user_dim · engine spark · env dev · logical date 2024-06-02
CREATE OR REPLACE TEMPORARY VIEW `shop__users` (
  `user_id` BIGINT,
  `name` STRING,
  `country_code` STRING,
  `signup_date` DATE,
  `segment` STRING
)
USING parquet
OPTIONS (
  'path' = '/data/dev/shop/users'
);

CREATE OR REPLACE TEMPORARY VIEW `mart__user_dim` (
  `user_id` BIGINT,
  `name` STRING,
  `country_code` STRING,
  `segment` STRING
)
USING parquet
OPTIONS (
  'path' = '/data/dev/mart/user_dim'
);

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`user_dim` (
  `user_id` BIGINT,
  `name` STRING,
  `country_code` STRING,
  `segment` STRING
)
USING parquet
LOCATION '/data/dev/mart/user_dim';

DROP TABLE IF EXISTS `fc_upsert__mart__user_dim`;
CREATE TABLE `fc_upsert__mart__user_dim` USING parquet AS
WITH `__fc_new` AS (
  SELECT
    `users`.`user_id` AS `user_id`,
    `users`.`name` AS `name`,
    `users`.`country_code` AS `country_code`,
    `users`.`segment` AS `segment`
  FROM `shop__users` AS `users`
)
SELECT
  `__fc_new`.`user_id`,
  `__fc_new`.`name`,
  `__fc_new`.`country_code`,
  `__fc_new`.`segment`
FROM `__fc_new`
UNION ALL
SELECT
  `__fc_current`.`user_id` AS `user_id`,
  `__fc_current`.`name` AS `name`,
  `__fc_current`.`country_code` AS `country_code`,
  `__fc_current`.`segment` AS `segment`
FROM `mart__user_dim` AS `__fc_current`
LEFT JOIN `__fc_new` AS `__fc_match`
  ON `__fc_current`.`user_id` = `__fc_match`.`user_id`
WHERE
  `__fc_match`.`user_id` IS NULL;

INSERT OVERWRITE TABLE `mart`.`user_dim`
SELECT * FROM `fc_upsert__mart__user_dim`;
DROP TABLE `fc_upsert__mart__user_dim`;
