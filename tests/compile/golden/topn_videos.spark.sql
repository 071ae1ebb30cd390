-- Formcast task top_videos · engine spark · env dev · logical date 2024-06-02
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

CREATE DATABASE IF NOT EXISTS `mart`;
CREATE TABLE IF NOT EXISTS `mart`.`top_videos` (
  `video_id` BIGINT,
  `creator_id` BIGINT,
  `title` STRING,
  `category` STRING,
  `duration_s` INT,
  `rank` INT
)
USING parquet
LOCATION '/data/dev/mart/top_videos';

INSERT OVERWRITE TABLE `mart`.`top_videos`
WITH `__fc_ranked` AS (
  SELECT
    `videos`.`video_id` AS `video_id`,
    `videos`.`creator_id` AS `creator_id`,
    `videos`.`title` AS `title`,
    `videos`.`category` AS `category`,
    `videos`.`duration_s` AS `duration_s`,
    DENSE_RANK() OVER (
      PARTITION BY `videos`.`category`
      ORDER BY `videos`.`duration_s` DESC, `videos`.`video_id` ASC
    ) AS `__fc_rank`
  FROM `media__videos` AS `videos`
)
SELECT
  `__fc_ranked`.`video_id` AS `video_id`,
  `__fc_ranked`.`creator_id` AS `creator_id`,
  `__fc_ranked`.`title` AS `title`,
  `__fc_ranked`.`category` AS `category`,
  `__fc_ranked`.`duration_s` AS `duration_s`,
  `__fc_ranked`.`__fc_rank` AS `rank`
FROM `__fc_ranked` AS `__fc_ranked`
WHERE
  `__fc_ranked`.`__fc_rank` <= 3;
