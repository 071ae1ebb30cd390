"""Task kinds as Pydantic models; `TaskConfig` is the discriminated union of all of them."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from generators.tasks.base import FormcastModel, OrderItem, SlaSpec, TargetSpec, TaskHeader
from generators.tasks.kinds import (
    AggregateStep,
    AggregateTask,
    ChainedTask,
    ColumnMapping,
    DedupStep,
    DedupTask,
    DerivedColumn,
    DeriveStep,
    DeriveTask,
    Dimension,
    EnrichStep,
    EnrichTask,
    Join,
    JoinKey,
    Metric,
    SqlTask,
    Step,
    SyncStep,
    SyncTask,
    TimeGrain,
    TopNStep,
    TopNTask,
    WindowAggregateStep,
    WindowAggregateTask,
    WindowSpec,
)

Task = (
    SyncTask | AggregateTask | WindowAggregateTask | DedupTask | EnrichTask | DeriveTask | TopNTask | ChainedTask
    | SqlTask
)
TaskConfig = Annotated[Task, Field(discriminator="kind")]
TASK_ADAPTER: TypeAdapter[Task] = TypeAdapter(TaskConfig)

KINDS: dict[str, type[TaskHeader]] = {
    cls.model_fields["kind"].default: cls
    for cls in (SyncTask, AggregateTask, WindowAggregateTask, DedupTask, EnrichTask, DeriveTask, TopNTask,
                ChainedTask, SqlTask)
}

__all__ = [
    "KINDS", "TASK_ADAPTER", "AggregateStep", "AggregateTask", "ChainedTask", "ColumnMapping", "DedupStep",
    "DedupTask", "DeriveStep", "DeriveTask", "DerivedColumn", "Dimension", "EnrichStep", "EnrichTask",
    "FormcastModel", "Join", "JoinKey", "Metric", "OrderItem", "SlaSpec", "SqlTask", "Step", "SyncStep",
    "SyncTask", "TargetSpec", "Task", "TaskConfig", "TaskHeader", "TimeGrain", "TopNStep", "TopNTask",
    "WindowAggregateStep", "WindowAggregateTask", "WindowSpec",
]
