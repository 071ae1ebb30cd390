"""infer_table from parquet (hive-partitioned), CSV and JSON-lines data written here with pyarrow."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.errors import CatalogError
from catalog.infer import arrow_to_spark, infer_table
from catalog.spec import FileBinding


def write_partitioned_parquet(root: Path) -> None:
    schema = pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("user_id", pa.int64()),
            pa.field("clicks", pa.int32()),
            pa.field("score", pa.float64()),
            pa.field("amount", pa.decimal128(12, 3)),
            pa.field("ok", pa.bool_()),
            pa.field("day", pa.date32()),
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("attrs", pa.struct([("a", pa.int16()), ("b c", pa.large_string())])),
            pa.field("props", pa.map_(pa.string(), pa.float32())),
        ]
    )
    for ds in ("2024-01-01", "2024-01-02"):
        table = pa.table(
            {
                "event_id": ["e1"],
                "user_id": [1],
                "clicks": [2],
                "score": [0.5],
                "amount": [decimal.Decimal("1.250")],
                "ok": [True],
                "day": [dt.date(2024, 1, 1)],
                "ts": [dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)],
                "tags": [["x"]],
                "attrs": [{"a": 1, "b c": "v"}],
                "props": [[("k", 1.0)]],
            },
            schema=schema,
        )
        (root / f"ds={ds}").mkdir(parents=True)
        pq.write_table(table, root / f"ds={ds}" / "part-00000.snappy.parquet")
    (root / "_SUCCESS").write_text("")


def test_partitioned_parquet_directory(tmp_path) -> None:
    root = tmp_path / "events"
    write_partitioned_parquet(root)
    spec = infer_table(root, "app.Events")
    assert spec.name == "app.events"
    assert [(c.name, c.type, c.nullable) for c in spec.columns] == [
        ("event_id", "string", False),
        ("user_id", "bigint", True),
        ("clicks", "int", True),
        ("score", "double", True),
        ("amount", "decimal(12, 3)", True),
        ("ok", "boolean", True),
        ("day", "date", True),
        ("ts", "timestamp", True),
        ("tags", "array<string>", True),
        ("attrs", "struct<a: smallint, `b c`: string>", True),
        ("props", "map<string, float>", True),
        ("ds", "string", True),
    ]
    assert spec.partition_by == ["ds"]
    expected = FileBinding(path=str(root.resolve()), format="parquet")
    assert spec.bindings == {"spark": {"dev": expected}, "flink": {"dev": expected}}


def test_single_parquet_file_has_no_partitions(tmp_path) -> None:
    pq.write_table(pa.table({"id": pa.array([1], pa.int64())}), tmp_path / "one.parquet")
    spec = infer_table(tmp_path / "one.parquet", "a.one", engine_envs=[("spark", "prod")])
    assert [(c.name, c.type) for c in spec.columns] == [("id", "bigint")]
    assert spec.partition_by == []
    assert spec.bindings == {
        "spark": {"prod": FileBinding(path=str(tmp_path / "one.parquet"), format="parquet")}
    }


def test_csv_file_types_from_a_sample(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer,day,placed_at,price,paid,note\n"
        "1,alice,2024-01-01,2024-01-01 10:00:00,1.5,true,\n"
        "2,bob,2024-01-02,2024-01-02T11:30:00,2,false,\n"
    )
    spec = infer_table(path, "shop.orders")
    assert [(c.name, c.type, c.nullable) for c in spec.columns] == [
        ("order_id", "bigint", True),
        ("customer", "string", True),
        ("day", "date", True),
        ("placed_at", "timestamp", True),
        ("price", "double", True),
        ("paid", "boolean", True),
        ("note", "string", True),  # empty in the sample
    ]
    binding = spec.binding("spark", "dev")
    assert (binding.format, binding.options, binding.path) == ("csv", {"header": "true"}, str(path))


def test_partitioned_csv_directory(tmp_path) -> None:
    for region in ("eu", "us"):
        (tmp_path / "sales" / f"region={region}").mkdir(parents=True)
        (tmp_path / "sales" / f"region={region}" / "part-0.csv").write_text("id,amount\n1,2.5\n")
    spec = infer_table(tmp_path / "sales", "shop.sales")
    assert [(c.name, c.type) for c in spec.columns] == [
        ("id", "bigint"),
        ("amount", "double"),
        ("region", "string"),
    ]
    assert spec.partition_by == ["region"]
    assert spec.binding("flink", "dev").format == "csv"


def test_json_lines(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"id": 1, "name": "a", "nums": [1, 2]}\n{"id": 2, "name": null}\n')
    spec = infer_table(path, "app.json_events")
    assert [(c.name, c.type) for c in spec.columns] == [
        ("id", "bigint"),
        ("name", "string"),
        ("nums", "array<bigint>"),
    ]
    assert spec.binding("spark", "dev").format == "json"


def test_explicit_format_overrides_suffix(tmp_path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("a,b\n1,x\n")
    assert [c.name for c in infer_table(path, "a.b", format="csv").columns] == ["a", "b"]


@pytest.mark.parametrize(
    ("entry", "content", "message"),
    [
        ("missing", None, "no such file or directory"),
        ("empty_dir", "<dir>", "no data files found in this directory"),
        ("e.csv", "", "cannot read as csv: "),
        ("g.parquet", "garbage", "cannot read as parquet: "),
        ("x.bin", "1", "cannot tell the file format: pass format= one of parquet, csv, json"),
    ],
)
def test_unreadable_inputs_name_the_path(tmp_path, entry: str, content: str | None, message: str) -> None:
    path = tmp_path / entry
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(CatalogError) as err:
        infer_table(path, "a.b")
    assert str(err.value).startswith(f"{path}: {message}")


def test_invalid_logical_name(tmp_path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(
        CatalogError, match=r"a\.csv: name: 'nodot': a logical table name is 'namespace\.table'"
    ):
        infer_table(tmp_path / "a.csv", "nodot")


@pytest.mark.parametrize(
    ("arrow_type", "spark"),
    [
        (pa.int8(), "tinyint"),
        (pa.uint32(), "bigint"),
        (pa.uint64(), "decimal(20,0)"),
        (pa.float16(), "float"),
        (pa.large_list(pa.int32()), "array<int>"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.binary(), "binary"),
        (pa.date64(), "date"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.decimal256(38, 2), "decimal(38,2)"),
    ],
)
def test_arrow_to_spark(arrow_type: pa.DataType, spark: str) -> None:
    assert arrow_to_spark(arrow_type) == spark


@pytest.mark.parametrize("arrow_type", [pa.time64("us"), pa.duration("s"), pa.decimal256(50, 2)])
def test_arrow_types_spark_lacks(arrow_type: pa.DataType) -> None:
    with pytest.raises(ValueError):
        arrow_to_spark(arrow_type)


def test_unmappable_column_falls_back_to_string(tmp_path, caplog) -> None:
    pq.write_table(pa.table({"t": pa.array([1], pa.time64("us"))}), tmp_path / "t.parquet")
    spec = infer_table(tmp_path / "t.parquet", "a.t")
    assert [(c.name, c.type) for c in spec.columns] == [("t", "string")]
    assert "column t typed as string" in caplog.text
