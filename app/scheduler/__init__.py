"""Scheduling: cron with time zones, lineage-driven dependencies, priorities, SLAs, backfills.

`core.Scheduler` is pure logic over a `state.StateStore` (in memory, or `sql_state.SqlState` on the
catalog database) and a clock value; `service.SchedulerService` drives it in real time with an
`executors.Executor`. See README "Scheduling" for the conventions.
"""
