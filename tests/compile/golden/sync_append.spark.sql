-- Formcast task event_log · engine spark · env dev · logical date 2024-06-02
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

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`event_log` (
  `event_id` BIGINT,
  `user_id` BIGINT,
  `event` STRING,
  `event_ts` TIMESTAMP
)
USING parquet
LOCATION '/data/dev/mart/event_log';

INSERT INTO TABLE `mart`.`event_log`
SELECT
  `events`.`event_id` AS `event_id`,
  `events`.`user_id` AS `user_id`,
  `events`.`event` AS `event`,
  `events`.`event_ts` AS `event_ts`
FROM `app__events` AS `events`
WHERE
  `events`.`ds` = '2024-06-02';
