"""Regenerate `generators/functions/<engine>.json`: the function catalog of each engine, as the engine lists it.

    .venv/bin/python scripts/function_catalog.py            # both engines (~1 min: two JVMs)
    .venv/bin/python scripts/function_catalog.py spark

Run it after upgrading pyspark or apache-flink and review the diff: a new engine function becomes
callable from forms and `sql` tasks unless `generators/functions.py` denies it. The compiler reads
only the JSON files (generators/ never imports an engine).

* Spark: `SHOW FUNCTIONS` on a local session (built-in functions, operators dropped).
* Flink: `SHOW FUNCTIONS` lists Table API names; SQL resolves names through the planner's operator
  table (FlinkSqlOperatorTable) and the built-in definitions' SQL names, so all three are merged.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "generators" / "functions"
NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _names(raw: list[str]) -> list[str]:
    return sorted({n.lower() for n in raw if NAME.match(n.lower())})


def spark_functions() -> dict[str, object]:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("formcast-function-catalog")
               .config("spark.ui.enabled", "false").getOrCreate())
    names = [row[0] for row in session.sql("SHOW FUNCTIONS").collect()]
    session.stop()
    return {"engine": "spark", "engine_version": version("pyspark"), "source": "SHOW FUNCTIONS",
            "functions": _names(names)}


def flink_functions() -> dict[str, object]:
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    names = [row[0] for row in env.execute_sql("SHOW FUNCTIONS").collect()]
    gateway = get_gateway()
    jvm = gateway.jvm
    # The planner lives in its own class loader: reach its operator table by reflection.
    loader = env._j_tenv.getPlanner().getClass().getClassLoader()
    table_class = loader.loadClass("org.apache.flink.table.planner.functions.sql.FlinkSqlOperatorTable")
    types = gateway.new_array(jvm.java.lang.Class, 1)
    types[0] = jvm.java.lang.Boolean.TYPE
    args = gateway.new_array(jvm.java.lang.Object, 1)
    args[0] = False
    operators = table_class.getMethod("instance", types).invoke(None, args).getOperatorList()
    names += [str(op.getName()) for op in operators]
    for definition in jvm.org.apache.flink.table.functions.BuiltInFunctionDefinitions.getDefinitions():
        if not definition.isInternal():
            names.append(str(definition.getSqlName()))
    return {"engine": "flink", "engine_version": version("apache-flink"),
            "source": "SHOW FUNCTIONS + FlinkSqlOperatorTable + BuiltInFunctionDefinitions SQL names",
            "functions": _names(names)}


def main(engines: list[str]) -> None:
    makers = {"spark": spark_functions, "flink": flink_functions}
    for engine in engines or list(makers):
        catalog = makers[engine]()
        path = OUT / f"{engine}.json"
        path.write_text(json.dumps(catalog, indent=1) + "\n", encoding="utf-8")
        print(f"{path}: {len(catalog['functions'])} functions ({engine} {catalog['engine_version']})")  # type: ignore


if __name__ == "__main__":
    main(sys.argv[1:])
