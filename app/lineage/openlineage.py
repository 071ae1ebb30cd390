"""OpenLineage RunEvents for task runs, with the schema and column-lineage facets, and their emission.

Events are plain dicts in the OpenLineage 2-0-2 JSON shape (no client library needed at run time);
tests check them against the official `openlineage-python` classes. Datasets are the LOGICAL tables
(`ns.table`) in the namespace `formcast://<env>`, the names column lineage is computed over.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from catalog.lineage import TaskLineage

PRODUCER = "https://github.com/formcast/formcast"  # identifies the producing software in every event/facet
SPEC = "https://openlineage.io/spec"
EVENT_SCHEMA_URL = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET_SCHEMA_URLS = {
    "schema": f"{SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "columnLineage": f"{SPEC}/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
    "nominalTime": f"{SPEC}/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
    "errorMessage": f"{SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "jobType": f"{SPEC}/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "sql": f"{SPEC}/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet",
    "ownership": f"{SPEC}/facets/1-0-1/OwnershipJobFacet.json#/$defs/OwnershipJobFacet",
}
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
# Formcast edge kind -> OpenLineage transformation (type, subtype).
TRANSFORMATIONS = {
    "copied": ("DIRECT", "IDENTITY"),
    "transformed": ("DIRECT", "TRANSFORMATION"),
    "aggregated": ("DIRECT", "AGGREGATION"),
    "filtered_by": ("INDIRECT", "FILTER"),
    "joined_on": ("INDIRECT", "JOIN"),
}
JOB_NAMESPACE = "formcast"
_RUN_STATUS_EVENTS = {"succeeded": "COMPLETE", "failed": "FAIL", "cancelled": "ABORT", "lost": "FAIL"}


def dataset_namespace(env: str) -> str:
    return f"formcast://{env}"


def run_event(
    lineage: TaskLineage,
    event_type: str,
    *,
    run_id: str,
    env: str = "dev",
    event_time: datetime | None = None,
    logical_date: date | datetime | None = None,
    input_schemas: Mapping[str, Iterable[tuple[str, str | None]]] | None = None,
    query: str | None = None,
    streaming: bool = False,
    error: str | None = None,
    producer: str = PRODUCER,
) -> dict[str, Any]:
    """One RunEvent for a run of `lineage`'s task. `input_schemas` (table -> [(column, type)]) adds the
    schema facet to inputs; `query` adds the SQL job facet; `error` the errorMessage run facet."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"eventType is one of {', '.join(EVENT_TYPES)}, not {event_type!r}")
    uuid.UUID(run_id)  # OpenLineage requires a UUID
    namespace = dataset_namespace(env)
    run_facets: dict[str, Any] = {}
    if logical_date is not None:
        run_facets["nominalTime"] = _facet("nominalTime", producer, nominalStartTime=_iso(logical_date))
    if error is not None:
        run_facets["errorMessage"] = _facet("errorMessage", producer, message=error, programmingLanguage="PYTHON")
    job_facets: dict[str, Any] = {
        "jobType": _facet("jobType", producer, processingType="STREAMING" if streaming else "BATCH",
                          integration="FORMCAST", jobType="TASK"),
    }
    if query:
        job_facets["sql"] = _facet("sql", producer, query=query, dialect=lineage.engine)
    if lineage.owner:
        job_facets["ownership"] = _facet("ownership", producer, owners=[{"name": lineage.owner, "type": "OWNER"}])
    schemas = input_schemas or {}
    inputs = [
        {"namespace": namespace, "name": table,
         "facets": {"schema": _schema_facet(schemas[table], producer)} if table in schemas else {},
         "inputFacets": {}}
        for table in lineage.reads
    ]
    output = {
        "namespace": namespace, "name": lineage.target_table,
        "facets": {"schema": _schema_facet(lineage.output_columns, producer),
                   "columnLineage": column_lineage_facet(lineage, namespace, producer)},
        "outputFacets": {},
    }
    return {
        "eventTime": _iso(event_time or datetime.now(UTC)),
        "producer": producer,
        "schemaURL": EVENT_SCHEMA_URL,
        "eventType": event_type,
        "run": {"runId": run_id, "facets": run_facets},
        "job": {"namespace": JOB_NAMESPACE, "name": lineage.task, "facets": job_facets},
        "inputs": inputs,
        "outputs": [output],
    }


def column_lineage_facet(lineage: TaskLineage, namespace: str, producer: str = PRODUCER) -> dict[str, Any]:
    """`fields` maps each output column to the input fields it is computed from (DIRECT), plus the
    per-column filters of aggregates (INDIRECT/FILTER); row edges go to `dataset` (they affect every column)."""
    per_column: dict[str, dict[tuple[str, str], list[str]]] = {}
    whole: dict[tuple[str, str], list[str]] = {}
    for edge in lineage.edges:
        bucket = whole if edge.target_column is None else per_column.setdefault(edge.target_column, {})
        kinds = bucket.setdefault((edge.source_table, edge.source_column), [])
        if edge.kind not in kinds:
            kinds.append(edge.kind)
    fields = {
        column: {"inputFields": _input_fields(sources, namespace)}
        for column, _ in lineage.output_columns if (sources := per_column.get(column))
    }
    return _facet("columnLineage", producer, fields=fields, dataset=_input_fields(whole, namespace))


def events_for_run(lineage: TaskLineage, run: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """START, then COMPLETE/FAIL/ABORT when finished, for a recorded run (`catalog.store.RunRecord`)."""
    common = {"run_id": run.id, "env": run.env, "logical_date": _date(run.logical_date), **kwargs}
    events = [run_event(lineage, "START", event_time=run.started_at, **common)]
    final = _RUN_STATUS_EVENTS.get(run.status)
    if final is not None:
        error = run.error if final == "FAIL" else None
        events.append(run_event(lineage, final, event_time=run.ended_at or run.started_at, error=error, **common))
    return events


def emit(events: Iterable[Mapping[str, Any]], file: str | Path | None = None, url: str | None = None,
         timeout: float = 5.0) -> int:
    """Append events as JSON lines to `file` and/or POST each to `url` (an OpenLineage HTTP endpoint such as
    Marquez's /api/v1/lineage). Returns the number of events; an HTTP error raises (urllib's errors)."""
    if file is None and url is None:
        raise ValueError("emit needs a file or a url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError(f"an OpenLineage endpoint is an http(s) URL, not {url!r}")
    events = list(events)
    if file is not None:
        with Path(file).open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(event, sort_keys=True) + "\n" for event in events)
    if url is not None:
        for event in events:
            request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
    return len(events)


# --- helpers ------------------------------------------------------------------------------------


def _facet(name: str, producer: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": FACET_SCHEMA_URLS[name], **fields}


def _schema_facet(columns: Iterable[tuple[str, str | None]], producer: str) -> dict[str, Any]:
    # Every field carries `fields` (nested struct fields), empty here, as the official client writes it.
    return _facet("schema", producer, fields=[
        {"name": name, **({"type": type_} if type_ else {}), "fields": []} for name, type_ in columns
    ])


def _input_fields(sources: Mapping[tuple[str, str], list[str]], namespace: str) -> list[dict[str, Any]]:
    return [
        {"namespace": namespace, "name": table, "field": column,
         "transformations": [{"type": TRANSFORMATIONS[k][0], "subtype": TRANSFORMATIONS[k][1]} for k in kinds]}
        for (table, column), kinds in sorted(sources.items())
    ]


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()


def _date(value: str | None) -> date | datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
