"""OpenLineage events, validated against the official openlineage-python client's own classes."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

openlineage = pytest.importorskip("openlineage.client", reason="dev dependency openlineage-python")
from openlineage.client import event_v2 as ol  # noqa: E402
from openlineage.client.generated import (  # noqa: E402
    column_lineage_dataset as cl,
)
from openlineage.client.generated import (  # noqa: E402
    error_message_run,
    job_type_job,
    nominal_time_run,
    ownership_job,
    schema_dataset,
    sql_job,
)
from openlineage.client.serde import Serde  # noqa: E402

from app.lineage.openlineage import (  # noqa: E402
    EVENT_SCHEMA_URL,
    FACET_SCHEMA_URLS,
    PRODUCER,
    emit,
    events_for_run,
    run_event,
)
from catalog.store import RunRecord  # noqa: E402

FACET_CLASSES = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "columnLineage": cl.ColumnLineageDatasetFacet,
    "nominalTime": nominal_time_run.NominalTimeRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "sql": sql_job.SQLJobFacet,
    "ownership": ownership_job.OwnershipJobFacet,
}


def _facet_args(facet: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in facet.items() if k != "_schemaURL"}  # computed by the client's class
    args["producer"] = args.pop("_producer")
    return args


def to_client(event: dict[str, Any]) -> ol.RunEvent:
    """Rebuild our event with the client's classes: an unknown or missing key raises a TypeError."""

    def input_field(f: dict[str, Any]) -> cl.InputField:
        return cl.InputField(**{**f, "transformations": [cl.Transformation(**t) for t in f["transformations"]]})

    def facet(name: str, data: dict[str, Any]) -> Any:
        args = _facet_args(data)
        if name == "schema":
            args["fields"] = [schema_dataset.SchemaDatasetFacetFields(**f) for f in args["fields"]]
        elif name == "columnLineage":
            args["fields"] = {
                k: cl.Fields(inputFields=[input_field(f) for f in v["inputFields"]],
                             **{key: value for key, value in v.items() if key != "inputFields"})
                for k, v in args["fields"].items()}
            args["dataset"] = [input_field(f) for f in args["dataset"]]
        elif name == "ownership":
            args["owners"] = [ownership_job.Owner(**o) for o in args["owners"]]
        producer = args.pop("producer")
        built = FACET_CLASSES[name](**args, producer=producer)
        assert built._schemaURL == data["_schemaURL"], name  # we point at the published spec the client uses
        return built

    def facets(data: dict[str, Any]) -> dict[str, Any]:
        return {name: facet(name, value) for name, value in data.items()}

    rest = {k: v for k, v in event.items() if k not in ("schemaURL", "run", "job", "inputs", "outputs", "eventType")}
    client = ol.RunEvent(
        **rest,
        eventType=ol.RunState(event["eventType"]),
        run=ol.Run(runId=event["run"]["runId"], facets=facets(event["run"]["facets"])),
        job=ol.Job(namespace=event["job"]["namespace"], name=event["job"]["name"],
                   facets=facets(event["job"]["facets"])),
        inputs=[ol.InputDataset(d["namespace"], d["name"], facets=facets(d["facets"]), inputFacets=d["inputFacets"])
                for d in event["inputs"]],
        outputs=[ol.OutputDataset(d["namespace"], d["name"], facets=facets(d["facets"]),
                                  outputFacets=d["outputFacets"]) for d in event["outputs"]],
    )
    assert client.schemaURL == event["schemaURL"]
    return client


def test_schema_urls_are_the_published_ones_the_client_uses() -> None:
    assert ol.RunEvent._get_schema() == EVENT_SCHEMA_URL
    for name, cls in FACET_CLASSES.items():
        assert FACET_SCHEMA_URLS[name] == cls._get_schema(), name
        assert FACET_SCHEMA_URLS[name].startswith("https://openlineage.io/spec/facets/")


@pytest.mark.parametrize("name", ["orders_enriched", "order_metrics", "plays_per_window", "users_upsert"])
def test_run_event_round_trips_through_the_client(name: str, lineage_of) -> None:
    lineage = lineage_of(name)
    schemas = {t: [("some_column", "string")] for t in lineage.reads[:1]}
    event = run_event(lineage, "COMPLETE", run_id=str(uuid.uuid4()), env="prod", logical_date=date(2024, 6, 2),
                      input_schemas=schemas, query="SELECT 1", streaming=name == "plays_per_window",
                      event_time=datetime(2024, 6, 3, 1, 2, 3, tzinfo=UTC))
    client = to_client(json.loads(json.dumps(event)))
    assert Serde.to_dict(client) == event
    assert event["job"] == {"namespace": "formcast", "name": name, "facets": event["job"]["facets"]}
    assert event["outputs"][0]["name"] == lineage.target_table
    assert {d["name"] for d in event["inputs"]} == set(lineage.reads)
    assert all(d["namespace"] == "formcast://prod" for d in event["inputs"] + event["outputs"])


def test_column_lineage_facet_content(lineage_of) -> None:
    event = run_event(lineage_of("order_metrics"), "START", run_id=str(uuid.uuid4()))
    facet = event["outputs"][0]["facets"]["columnLineage"]
    assert facet["_producer"] == PRODUCER
    net = {f["field"]: f["transformations"] for f in facet["fields"]["net_revenue"]["inputFields"]}
    assert net["price"] == [{"type": "DIRECT", "subtype": "AGGREGATION"}]
    assert net["status"] == [{"type": "INDIRECT", "subtype": "FILTER"}]  # SUM(...) FILTER (WHERE status = ...)
    assert {(f["field"], f["transformations"][0]["subtype"]) for f in facet["dataset"]} == {
        ("ds", "FILTER"), ("status", "FILTER")}
    assert "orders" not in facet["fields"]  # COUNT(*): no input column
    joined = run_event(lineage_of("orders_enriched"), "START", run_id=str(uuid.uuid4()))
    dataset = joined["outputs"][0]["facets"]["columnLineage"]["dataset"]
    assert {"type": "INDIRECT", "subtype": "JOIN"} in [t for f in dataset for t in f["transformations"]]
    copied = joined["outputs"][0]["facets"]["columnLineage"]["fields"]["buyer_country"]["inputFields"]
    assert copied == [{"namespace": "formcast://dev", "name": "app.users", "field": "country",
                       "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]


def test_events_for_a_failed_run(lineage_of) -> None:
    start = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
    run = RunRecord(str(uuid.uuid4()), "video_plays", "h", "spark", "dev", "2024-06-02", "failed", start,
                    ended_at=start.replace(minute=5), error="boom")
    start_event, fail = events_for_run(lineage_of("video_plays"), run)
    assert (start_event["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start_event["run"]["runId"] == fail["run"]["runId"] == run.id
    assert fail["run"]["facets"]["errorMessage"]["message"] == "boom"
    assert fail["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2024-06-02T00:00:00+00:00"
    for event in (start_event, fail):
        assert Serde.to_dict(to_client(event)) == event
    with pytest.raises(ValueError):
        run_event(lineage_of("video_plays"), "DONE", run_id=run.id)
    with pytest.raises(ValueError):
        run_event(lineage_of("video_plays"), "START", run_id="not-a-uuid")


def test_emit_to_a_file_and_to_a_local_endpoint(tmp_path, lineage_of) -> None:
    events = [run_event(lineage_of("users_copy"), t, run_id=str(uuid.uuid4())) for t in ("START", "COMPLETE")]
    out = tmp_path / "events.jsonl"
    assert emit(events, file=out) == 2
    assert [json.loads(line) for line in out.read_text().splitlines()] == events

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.headers["Content-Type"] == "application/json"
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert emit(events, url=f"http://127.0.0.1:{server.server_port}/api/v1/lineage", timeout=5) == 2
    finally:
        server.shutdown()
        server.server_close()
    assert received == events
    with pytest.raises(ValueError):
        emit(events, url="file:///etc/passwd")
    with pytest.raises(ValueError):
        emit(events)
