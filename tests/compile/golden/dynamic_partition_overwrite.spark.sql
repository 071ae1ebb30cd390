-- Formcast task events_by_day · engine spark · env dev · logical date 2024-06-02
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

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`events_by_day` (
  `event_id` BIGINT,
  `event` STRING,
  `ds` DATE
)
USING parquet
PARTITIONED BY (`ds`)
LOCATION '/data/dev/mart/events_by_day';

INSERT OVERWRITE TABLE `mart`.`events_by_day`
SELECT
  `events`.`event_id` AS `event_id`,
  `events`.`event` AS `event`,
  `events`.`ds` AS `ds`
FROM `app__events` AS `events`
WHERE
  `events`.`ds` <= '2024-06-02' AND `events`.`ds` >= '2024-06-01';
