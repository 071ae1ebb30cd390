"""Cron with time zones: daylight-saving changes, logical keys, deadlines, backfill ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

from generators.tasks import cron

AMS = "Europe/Amsterdam"


def _fires(expr: str, tz: str, a: datetime, b: datetime) -> list[tuple[str, str]]:
    return [(f.isoformat(), cron.logical_key(expr, tz, f)) for f in cron.fires_between(expr, tz, a, b)]


def test_daily_fire_in_the_spring_forward_gap_runs_once_shifted_by_the_gap() -> None:
    # 2024-03-31 02:30 does not exist in Amsterdam (02:00 -> 03:00): it fires at 03:30 CEST = 01:30 UTC.
    got = _fires("30 2 * * *", AMS, datetime(2024, 3, 29, tzinfo=UTC), datetime(2024, 4, 2, tzinfo=UTC))
    assert got == [
        ("2024-03-29T01:30:00+00:00", "2024-03-28"),
        ("2024-03-30T01:30:00+00:00", "2024-03-29"),
        ("2024-03-31T01:30:00+00:00", "2024-03-30"),  # 03:30 CEST
        ("2024-04-01T00:30:00+00:00", "2024-03-31"),  # 02:30 CEST
    ]


def test_daily_fire_in_the_fall_back_overlap_runs_once_at_the_first_occurrence() -> None:
    got = _fires("30 2 * * *", AMS, datetime(2024, 10, 26, tzinfo=UTC), datetime(2024, 10, 29, tzinfo=UTC))
    assert got == [
        ("2024-10-26T00:30:00+00:00", "2024-10-25"),
        ("2024-10-27T00:30:00+00:00", "2024-10-26"),  # 02:30 CEST, not again at 02:30 CET
        ("2024-10-28T01:30:00+00:00", "2024-10-27"),
    ]


def test_hourly_schedule_across_spring_forward_has_no_duplicate_fire() -> None:
    fires = cron.fires_between("0 * * * *", AMS, datetime(2024, 3, 30, 23, tzinfo=UTC),
                               datetime(2024, 3, 31, 3, tzinfo=UTC))
    assert [f.hour for f in fires] == [0, 1, 2, 3]  # UTC: strictly increasing, one per real hour
    keys = [cron.logical_key("0 * * * *", AMS, f) for f in fires]
    assert len(set(keys)) == len(keys)
    assert keys[0] == "2024-03-31T00:00"


def test_midnight_daily_in_shanghai_keys_by_local_date() -> None:
    fire = cron.next_fire("0 0 * * *", "Asia/Shanghai", datetime(2024, 6, 1, 12, tzinfo=UTC))
    assert fire == datetime(2024, 6, 1, 16, tzinfo=UTC)  # 00:00 +08:00 on June 2
    assert cron.logical_key("0 0 * * *", "Asia/Shanghai", fire) == "2024-06-01"


def test_weekly_and_monthly_keys_are_the_interval_start() -> None:
    fire = cron.next_fire("0 3 * * 0", "UTC", datetime(2024, 6, 3, tzinfo=UTC))  # Sunday 2024-06-09
    assert cron.logical_key("0 3 * * 0", "UTC", fire) == "2024-06-02"
    fire = cron.next_fire("0 4 1 * *", "UTC", datetime(2024, 2, 15, tzinfo=UTC))
    assert cron.logical_key("0 4 1 * *", "UTC", fire) == "2024-02-01"


def test_deadline_is_local_time_the_day_after_the_logical_date_across_dst() -> None:
    assert cron.deadline_at("2024-06-01", "08:00", AMS) == datetime(2024, 6, 2, 6, tzinfo=UTC)  # CEST
    assert cron.deadline_at("2024-12-01", "08:00", AMS) == datetime(2024, 12, 2, 7, tzinfo=UTC)  # CET
    assert cron.deadline_at("2024-10-26", "08:00", AMS) == datetime(2024, 10, 27, 7, tzinfo=UTC)  # fall-back day


def test_keys_in_range_respect_the_schedule() -> None:
    assert cron.keys_in_range("0 2 * * *", "UTC", date(2024, 6, 1), date(2024, 6, 3)) == [
        "2024-06-01", "2024-06-02", "2024-06-03"]
    assert cron.keys_in_range("0 3 * * 0", "UTC", date(2024, 6, 1), date(2024, 6, 20)) == [
        "2024-06-02", "2024-06-09", "2024-06-16"]
    assert cron.is_daily("30 1 * * *") and not cron.is_daily("*/10 * * * *")
