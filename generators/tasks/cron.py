"""Cron schedules in a time zone, and the logical key (date) each fire processes.

Conventions (see README "Scheduling"):
* A cron is evaluated on the local wall clock of its time zone. A wall time that does not exist
  (spring-forward gap) fires at the same wall time shifted by the gap (02:30 -> 03:30); an
  ambiguous one (fall-back) fires once, at its first occurrence. Fires never go back in UTC.
* A fire processes the interval that ends with it: its logical key is the previous fire. For
  schedules firing at most once a day the key is that fire's local date (`2024-06-01` for the
  01:30 run of 2024-06-02, as in Airflow); for sub-daily schedules it is the local date-time
  (`2024-06-01T13:00`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_daily(cron: str) -> bool:
    """True when the cron fires at most once per day (minute and hour are single values)."""
    minute, hour = cron.split()[:2]
    return minute.isdigit() and hour.isdigit()


def every_day(cron: str) -> bool:
    """Fires on every calendar day (no day-of-month, month or weekday restriction)."""
    return cron.split()[2:] == ["*", "*", "*"]


def _to_utc(naive_local: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time to UTC; gaps shift forward by the gap, ambiguous times take the first occurrence."""
    # fold=0: in a gap zoneinfo applies the offset from before it, which lands after the gap.
    return naive_local.replace(tzinfo=tz, fold=0).astimezone(UTC)


@lru_cache(maxsize=65536)  # pure; many tasks share a cron and are materialized at the same tick
def fires_between(cron: str, tz_name: str, after: datetime, until: datetime) -> tuple[datetime, ...]:
    """UTC fire times in (after, until], both aware."""
    tz = zone(tz_name)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    it = croniter(cron, local_after - timedelta(hours=3))  # start early: DST shifts move fires by <= 2h
    out: list[datetime] = []
    last = after
    while True:
        naive = it.get_next(datetime)
        fire = _to_utc(naive, tz)
        if fire > until:
            return tuple(out)
        if fire > last:  # strictly increasing in UTC: drops duplicates a gap produces
            out.append(fire)
            last = fire


def previous_fire(cron: str, tz_name: str, fire: datetime) -> datetime:
    """The fire before `fire` (UTC in, UTC out)."""
    tz = zone(tz_name)
    naive = fire.astimezone(tz).replace(tzinfo=None)
    it = croniter(cron, naive)
    while True:
        prev = _to_utc(it.get_prev(datetime), tz)
        if prev < fire:
            return prev


@lru_cache(maxsize=65536)
def logical_key(cron: str, tz_name: str, fire: datetime) -> str:
    """The key of the interval that `fire` closes: the previous fire, as a local date or date-time."""
    prev = previous_fire(cron, tz_name, fire).astimezone(zone(tz_name))
    if is_daily(cron):
        return prev.date().isoformat()
    return prev.replace(tzinfo=None).isoformat(timespec="minutes")


def key_date(key: str) -> date:
    return date.fromisoformat(key[:10])


def keys_in_range(cron: str, tz_name: str, start: date, end: date) -> list[str]:
    """Logical keys whose interval starts on a local date in [start, end] (what a backfill covers)."""
    tz = zone(tz_name)
    begin = datetime.combine(start, datetime.min.time(), tz).astimezone(UTC) - timedelta(seconds=1)
    stop = datetime.combine(end + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC) - timedelta(seconds=1)
    starts = fires_between(cron, tz_name, begin, stop)  # fires in range = interval starts in range
    if is_daily(cron):
        return sorted({f.astimezone(tz).date().isoformat() for f in starts})
    return [f.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes") for f in starts]


def deadline_at(key: str, hhmm: str, tz_name: str) -> datetime:
    """'Ready by HH:MM' local time on the day after the key's date (daily convention), as UTC."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    day = key_date(key) + timedelta(days=1)
    return _to_utc(datetime(day.year, day.month, day.day, hour, minute), zone(tz_name))


@lru_cache(maxsize=65536)
def next_fire(cron: str, tz_name: str, after: datetime) -> datetime:
    """The first UTC fire strictly after `after`."""
    tz = zone(tz_name)
    it = croniter(cron, after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3))
    while True:
        fire = _to_utc(it.get_next(datetime), tz)
        if fire > after:
            return fire
