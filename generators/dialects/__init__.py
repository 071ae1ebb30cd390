"""SQL dialects that sqlglot does not ship; importing a module registers its dialect."""

from generators.dialects.flink import Flink, flink_type

__all__ = ["Flink", "flink_type"]
