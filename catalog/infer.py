"""Infer a TableSpec from data files: parquet, CSV or JSON lines, a file or a (hive-partitioned) directory."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
from pydantic import ValidationError

from catalog.errors import CatalogError, problems_from_validation
from catalog.spec import TableSpec

log = logging.getLogger("formcast.catalog.infer")

FORMATS = ("parquet", "csv", "json")
_SUFFIX_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".zst", ".lz4", ".snappy"}
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTS = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}
# Unsigned values need the next wider signed type; uint64 only fits a decimal.
_UINTS = {8: "smallint", 16: "int", 32: "bigint", 64: "decimal(20,0)"}


def arrow_to_spark(data_type: pa.DataType) -> str:
    """The Spark SQL spelling of an Arrow type; ValueError when Spark has no equivalent."""
    t = pa.types
    if t.is_dictionary(data_type):
        return arrow_to_spark(data_type.value_type)
    if t.is_boolean(data_type):
        return "boolean"
    if t.is_signed_integer(data_type):
        return _INTS[data_type.bit_width]
    if t.is_unsigned_integer(data_type):
        return _UINTS[data_type.bit_width]
    if t.is_float16(data_type) or t.is_float32(data_type):
        return "float"
    if t.is_float64(data_type):
        return "double"
    if t.is_decimal(data_type):
        if data_type.precision > 38:
            raise ValueError(f"{data_type} exceeds Spark's maximum decimal precision of 38")
        return f"decimal({data_type.precision},{data_type.scale})"
    if t.is_string(data_type) or t.is_large_string(data_type) or _is(data_type, "is_string_view"):
        return "string"
    if t.is_binary(data_type) or t.is_large_binary(data_type) or t.is_fixed_size_binary(data_type):
        return "binary"
    if t.is_date(data_type):
        return "date"
    if t.is_timestamp(data_type):
        return "timestamp"
    if t.is_null(data_type):
        return "string"  # a column with no values in the sample
    if t.is_list(data_type) or t.is_large_list(data_type) or t.is_fixed_size_list(data_type):
        return f"array<{arrow_to_spark(data_type.value_type)}>"
    if t.is_map(data_type):
        return f"map<{arrow_to_spark(data_type.key_type)},{arrow_to_spark(data_type.item_type)}>"
    if t.is_struct(data_type):
        fields = [data_type.field(i) for i in range(data_type.num_fields)]
        return "struct<" + ",".join(f"{_field_name(f.name)}:{arrow_to_spark(f.type)}" for f in fields) + ">"
    raise ValueError(f"Spark has no type for {data_type}")


def _is(data_type: pa.DataType, predicate: str) -> bool:
    check = getattr(pa.types, predicate, None)  # newer pyarrow only
    return bool(check and check(data_type))


def _field_name(name: str) -> str:
    return name if _PLAIN_NAME.match(name) else "`" + name.replace("`", "``") + "`"


def _format_of(file: Path) -> str | None:
    suffixes = [s.lower() for s in file.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    return _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None


def _data_files(root: Path) -> Iterable[Path]:
    """Files a reader would see: Spark/Hadoop side files (_SUCCESS, .crc) are hidden by prefix."""
    for file in sorted(root.rglob("*")):
        parts = file.relative_to(root).parts
        if file.is_file() and not any(p.startswith((".", "_")) for p in parts):
            yield file


def _detect_format(path: Path) -> str:
    if path.is_file():
        found = _format_of(path)
    else:
        files = list(_data_files(path))
        if not files:
            raise CatalogError("no data files found in this directory", source=str(path))
        found = next((f for f in map(_format_of, files) if f), None)
    if found is None:
        valid = ", ".join(FORMATS)
        raise CatalogError(f"cannot tell the file format: pass format= one of {valid}", source=str(path))
    return found


def _file_format(fmt: str) -> Any:
    if fmt == "parquet":
        return pads.ParquetFileFormat()
    if fmt == "csv":
        return pads.CsvFileFormat()
    return pads.JsonFileFormat()


def _open_dataset(path: Path, fmt: str) -> pads.Dataset:
    partitioning = "hive" if path.is_dir() else None
    try:
        dataset = pads.dataset(str(path), format=_file_format(fmt), partitioning=partitioning)
        schema = dataset.schema  # forces the sample read for CSV/JSON
    except (pa.ArrowException, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CatalogError(f"cannot read as {fmt}: {reason}", source=str(path)) from err
    if path.is_dir() and not dataset.files:
        raise CatalogError(f"no {fmt} files found in this directory", source=str(path))
    if len(schema) == 0:
        raise CatalogError(f"no columns found: the {fmt} data is empty", source=str(path))
    return dataset


def infer_table(
    path: str | Path,
    name: str,
    *,
    format: str | None = None,
    engine_envs: Iterable[tuple[str, str]] = (("spark", "dev"), ("flink", "dev")),
) -> TableSpec:
    """A TableSpec named `name` with the columns of the data at `path` and a file binding per (engine, env).

    Directories are read with hive partitioning: `ds=2024-01-01/` sub-directories add a `ds`
    column and `partition_by=["ds"]`. CSV needs a header row; its types come from a sample.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise CatalogError("no such file or directory", source=str(path))
    fmt = (format or _detect_format(root)).lower()
    if fmt not in FORMATS:
        valid = ", ".join(FORMATS)
        raise CatalogError(f"format '{fmt}' cannot be inferred: use one of {valid}", source=str(path))
    dataset = _open_dataset(root, fmt)
    partitioning = getattr(dataset, "partitioning", None)
    partition_names = list(partitioning.schema.names) if partitioning is not None else []
    columns = []
    for field in dataset.schema:
        try:
            spark_type = arrow_to_spark(field.type)
        except ValueError as err:
            log.warning("%s: column %s typed as string: %s", path, field.name, err)
            spark_type = "string"
        nullable = field.nullable if fmt == "parquet" else True  # CSV/JSON carry no nullability
        columns.append({"name": field.name, "type": spark_type, "nullable": nullable})
    binding: dict[str, Any] = {"kind": "file", "path": str(root.resolve()), "format": fmt}
    if fmt == "csv":
        binding["options"] = {"header": "true"}
    bindings: dict[str, dict[str, Any]] = {}
    for engine, env in engine_envs:
        bindings.setdefault(engine, {})[env] = dict(binding)
    data = {"name": name, "columns": columns, "partition_by": partition_names, "bindings": bindings}
    try:
        return TableSpec.model_validate(data)
    except ValidationError as err:
        raise CatalogError("", problems_from_validation(err, data), source=str(path)) from err
