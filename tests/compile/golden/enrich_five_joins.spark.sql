-- Formcast task events_enriched · engine spark · env dev · logical date 2024-06-02
SET spark.sql.sources.partitionOverwriteMode = dynamic;
CREATE OR REPLACE TEMPORARY VIEW `app__events` (
  `event_id` BIGINT,
  `user_id` BIGINT,
  `event` STRING,
  `video_id` BIGINT,
  `country_code` STRING,
  `app_version` STRING,
  `event_ts` TIMESTAMP,
  `duration_ms` BIGINT,
  `ds` DATE
)
USING parquet
OPTIONS (
  'path' = '/data/dev/app/events'
);

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

CREATE OR REPLACE TEMPORARY VIEW `media__videos` (
  `video_id` BIGINT,
  `creator_id` BIGINT,
  `title` STRING,
  `category` STRING,
  `duration_s` INT
)
USING parquet
OPTIONS (
  'path' = '/data/dev/media/videos'
);

CREATE OR REPLACE TEMPORARY VIEW `media__creators` (
  `creator_id` BIGINT,
  `name` STRING,
  `country_code` STRING,
  `tier` STRING
)
USING parquet
OPTIONS (
  'path' = '/data/dev/media/creators'
);

CREATE OR REPLACE TEMPORARY VIEW `ref__countries` (
  `code` STRING,
  `name` STRING,
  `region` STRING
)
USING parquet
OPTIONS (
  'path' = '/data/dev/ref/countries'
);

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`events_enriched` (
  `event_id` BIGINT,
  `user_id` BIGINT,
  `event` STRING,
  `user_name` STRING,
  `video_title` STRING,
  `creator_name` STRING,
  `creator_tier` STRING,
  `user_country_name` STRING,
  `creator_country_name` STRING,
  `creator_country_region` STRING,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/events_enriched';

INSERT OVERWRITE TABLE `mart`.`events_enriched`
PARTITION (`ds` = '2024-06-02')
SELECT
  `src`.`event_id` AS `event_id`,
  `src`.`user_id` AS `user_id`,
  `src`.`event` AS `event`,
  `u`.`name` AS `user_name`,
  `v`.`title` AS `video_title`,
  `c`.`name` AS `creator_name`,
  `c`.`tier` AS `creator_tier`,
  `uc`.`name` AS `user_country_name`,
  `cc`.`name` AS `creator_country_name`,
  `cc`.`region` AS `creator_country_region`
FROM `app__events` AS `src`
INNER JOIN `shop__users` AS `u`
  ON `src`.`user_id` = `u`.`user_id`
LEFT JOIN `media__videos` AS `v`
  ON `src`.`video_id` = `v`.`video_id`
LEFT JOIN `media__creators` AS `c`
  ON `c`.`creator_id` = `v`.`creator_id`
LEFT JOIN `ref__countries` AS `uc`
  ON `u`.`country_code` = `uc`.`code`
LEFT JOIN `ref__countries` AS `cc`
  ON `c`.`country_code` = `cc`.`code`
WHERE
  `src`.`ds` = '2024-06-02';
