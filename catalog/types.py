"""Column types: one canonical spelling (Spark SQL's) and the families validation reasons about."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import ParseError


class TypeFamily(StrEnum):
    NUMERIC = "numeric"
    STRING = "string"
    BOOLEAN = "boolean"
    TEMPORAL = "temporal"
    BINARY = "binary"
    COMPLEX = "complex"
    UNKNOWN = "unknown"


_FAMILIES: dict[TypeFamily, set[exp.DataType.Type]] = {
    TypeFamily.NUMERIC: exp.DataType.NUMERIC_TYPES,
    TypeFamily.STRING: exp.DataType.TEXT_TYPES,
    TypeFamily.TEMPORAL: exp.DataType.TEMPORAL_TYPES,
    TypeFamily.BOOLEAN: {exp.DataType.Type.BOOLEAN},
    TypeFamily.BINARY: {exp.DataType.Type.BINARY, exp.DataType.Type.VARBINARY},
    TypeFamily.COMPLEX: exp.DataType.NESTED_TYPES,
}

# Names people type that sqlglot's Spark dialect does not know as such.
_ALIASES = {"long": "bigint", "integer": "int", "text": "string", "datetime": "timestamp"}


class InvalidType(ValueError):
    """A type string that no engine would accept."""


@lru_cache(maxsize=4096)
def parse_type(type_sql: str) -> exp.DataType:
    """Parse a type as written in the catalog (`bigint`, `decimal(10,2)`, `array<string>`)."""
    text = type_sql.strip()
    text = _ALIASES.get(text.lower(), text)
    if not text:
        raise InvalidType("a column type is required, e.g. 'string', 'bigint', 'decimal(10,2)'")
    try:
        data_type = exp.DataType.build(text, dialect="spark")
    except (ParseError, ValueError) as err:
        raise InvalidType(
            f"'{type_sql}' is not a type: use Spark SQL spelling such as string, int, bigint, double, "
            "decimal(10,2), boolean, date, timestamp, array<string>, map<string,int>, struct<a:int>"
        ) from err
    if data_type.this == exp.DataType.Type.USERDEFINED:
        raise InvalidType(f"'{type_sql}' is not a known type")
    return data_type


@lru_cache(maxsize=4096)
def normalize_type(type_sql: str) -> str:
    """The canonical (Spark SQL, lower-case) spelling of a type."""
    return parse_type(type_sql).sql(dialect="spark").lower()


def type_family(type_sql: str) -> TypeFamily:
    data_type = parse_type(type_sql)
    for family, members in _FAMILIES.items():
        if data_type.this in members:
            return family
    return TypeFamily.UNKNOWN
