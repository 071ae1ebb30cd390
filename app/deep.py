"""Deep validation: local Spark analyzes the compiled query (no job runs); errors map back to fields."""

from __future__ import annotations

from app.runners import spark as spark_runner
from generators.compile import CompiledTask
from generators.diagnostics import Diagnostic
from generators.locate import locate_error


def analyze(compiled: CompiledTask) -> list[Diagnostic]:
    try:
        for statement in compiled.setup_statements():
            spark_runner.execute(statement)
        spark_runner.execute(compiled.query)  # analysis happens here; nothing is executed
    except spark_runner.EngineError as err:
        path = locate_error(compiled.task, str(err))
        hint = f"Spark error class {err.error_class}" if err.error_class else ""
        return [Diagnostic(path, "engine-analysis", "error", f"Spark rejects the query: {err}", hint)]
    return []
