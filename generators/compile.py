"""The compile pipeline: config → validated plan → templated SQL → optimized SQL → complete script.

validate (Pydantic) → resolve tables and columns against the catalog → render the kind's template
→ parse with sqlglot → structural checks → optimize (falling back to the unoptimized query with a
warning) → align with the target's schema → map logical to physical names for the engine and env
→ generate the engine's dialect → render the script (views, target DDL, INSERT).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer import optimizer
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.schema import MappingSchema

from catalog import isolation
from catalog.spec import TableSpec
from catalog.types import InvalidType, TypeFamily, normalize_type, parse_type
from generators.checks import check_query_structure
from generators.context import CatalogReader, Columns, PlanContext, Relation, family_of
from generators.diagnostics import Diagnostic, Diagnostics, join_path
from generators.dialects.flink import WindowTVF  # importing it registers the "flink" dialect
from generators.physical import ADAPTERS, PhysicalTable, ProdLocations, check_binding
from generators.planners import PLANNERS, plan_sync
from generators.rewrites import apply_lookups, inline_projections, is_identity, physical_names, upsert_query
from generators.sandbox import TemplateProblem
from generators.statements import split_statements
from generators.streaming import check_sink_accepts_updates, check_streaming
from generators.tasks import ChainedTask, SqlTask, SyncTask, Task
from generators.tasks.kinds import duration_seconds
from generators.templating import date_variables, quote_table, render_string, render_template

OPTIMIZER_RULES = tuple(rule for rule in optimizer.RULES if rule.__name__ != "canonicalize")
# Templates never emit correlated subqueries, OR-heavy predicates or joins that reorder: the rules for
# those cost time on every compile and change nothing, so only hand-written SQL gets them.
TEMPLATE_RULES = tuple(
    rule for rule in OPTIMIZER_RULES
    if rule.__name__ not in ("normalize", "unnest_subqueries", "optimize_joins", "eliminate_joins")
)


@dataclass
class CompiledTask:
    task: Task
    engine: str
    env: str
    logical_date: date
    diagnostics: list[Diagnostic]
    mode: str = "batch"
    query: str = ""  # the optimized SELECT, physical names, engine dialect
    script: str = ""  # the complete script: views, target DDL, INSERT
    setup: str = ""  # the script's first part: settings and source views (what a preview needs)
    output_columns: list[tuple[str, str | None]] = field(default_factory=list)
    sources: list[PhysicalTable] = field(default_factory=list)
    target: PhysicalTable | None = None
    target_spec: TableSpec | None = None
    static_partition: dict[str, str] = field(default_factory=dict)
    optimized: bool = False
    # The optimized SELECT over logical names as an AST (what `logical_query` prints); read-only: lineage
    # analyses it without re-parsing. None when compilation stopped early.
    logical_ast: exp.Query | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def logical_query(self) -> str:
        """The optimized SELECT over logical names (generated on demand: most callers never need it)."""
        return self.logical_ast.sql(dialect=self.engine, pretty=True) if self.logical_ast is not None else ""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def statements(self) -> list[str]:
        """The script split into statements, comments dropped, ready to execute one by one."""
        return split_statements(self.script, self.engine)

    def setup_statements(self) -> list[str]:
        return split_statements(self.setup, self.engine)


def config_hash(task: Task) -> str:
    payload = json.dumps(task.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def default_logical_date() -> date:
    """Daily batches process yesterday by default, as schedulers do."""
    return date.today() - timedelta(days=1)


class Compiler:
    """Compiles tasks against one catalog; caches what is shared between compiles."""

    def __init__(self, catalog: CatalogReader) -> None:
        self.catalog = catalog
        self._prod = ProdLocations(catalog)
        self._schemas: dict[tuple[Any, ...], MappingSchema] = {}

    def compile(
        self,
        task: Task,
        *,
        engine: str | None = None,
        env: str = "dev",
        logical_date: date | None = None,
        optimize: bool = True,
        sink_location: str | None = None,
        mode: str = "batch",
        preview: bool = False,
    ) -> CompiledTask:
        """Compile `task`. `preview=True` skips the checks about writing the sink: a preview reads only."""
        engine = engine or task.engine
        logical_date = logical_date or default_logical_date()
        diagnostics = Diagnostics(overrides=dict(task.lint))
        ctx = PlanContext(self.catalog, engine, date_variables(logical_date, task.params), diagnostics, mode=mode)
        result = CompiledTask(task, engine, env, logical_date, diagnostics.items, mode=mode)
        if engine not in ADAPTERS:
            diagnostics.add("engine", "invalid-config", f"unknown engine '{engine}'", "use spark or flink")
            return result
        if mode not in ("batch", "streaming") or (mode == "streaming" and engine != "flink"):
            diagnostics.add("engine", "invalid-config", f"{engine} cannot run in {mode} mode",
                            "streaming runs on flink; spark runs batch")
            return result

        target_spec = self._resolve_target(task, ctx)
        result.target_spec = target_spec
        logical_sql = self._logical_query(task, ctx, target_spec)
        if logical_sql is None or not diagnostics.ok:
            return result

        query = self._parse(logical_sql, ctx, task)
        if query is None:
            return result
        check_query_structure(query, task, ctx)
        static = self._static_partition(task, ctx, target_spec)
        schema = self._schema(ctx.tables, ctx.dialect)
        optimized, output = self._optimize(query, schema, ctx, optimize,
                                           fallback=lambda: sqlglot.parse_one(logical_sql, read=ctx.dialect))
        if not diagnostics.ok:
            return result
        if target_spec is not None:
            stored = ADAPTERS[engine].sink_types(target_spec, target_spec.binding(engine, env))  # type: ignore[arg-type]
            optimized = self._align_with_target(optimized, output, target_spec, static, task, ctx, schema, optimize,
                                                stored)
            if task.target.write_mode == "upsert" and optimized is not None and not ADAPTERS[engine].upserts_natively:
                optimized = self._upsert(optimized, target_spec, task, ctx, schema, optimize)
        if optimized is None or not diagnostics.ok:
            return result

        if ctx.lookup_tables:
            optimized = apply_lookups(optimized, set(ctx.lookup_tables), ctx.proctime_tables)
        sources, target = self._physical(task, ctx, target_spec, env, sink_location)
        if mode == "streaming":
            check_streaming(task, query, sources, ctx)
            if not preview:
                check_sink_accepts_updates(target, ctx)
        if not diagnostics.ok or target is None:
            return result
        result.logical_ast = optimized
        result.output_columns = [(s.alias_or_name, _type_name(s)) for s in optimized.selects]
        with physical_names(optimized, {s.logical: s.name for s in sources}) as physical_query:
            result.query = physical_query.sql(dialect=engine, pretty=True)
        result.sources, result.target, result.static_partition = sources, target, static
        result.optimized = optimize and not any(d.rule == "optimizer-fallback" for d in diagnostics.items)
        result.script, result.setup = self._script(result, task, ctx, target_spec, in_place=sink_location is None)
        return result

    # --- stages --------------------------------------------------------------------------------

    def _schema(self, tables: dict[str, TableSpec], dialect: str) -> MappingSchema:
        """The optimizer's schema for these tables, built once and reused (normalizing it is not free)."""
        key = (dialect, tuple(sorted((name, id(spec)) for name, spec in tables.items())))
        schema = self._schemas.get(key)
        if schema is None:
            if len(self._schemas) > 512:
                self._schemas.clear()
            schema = self._schemas[key] = MappingSchema(_schema(tables, dialect), dialect=dialect)
        return schema

    def _resolve_target(self, task: Task, ctx: PlanContext) -> TableSpec | None:
        spec = ctx.catalog.get_table(task.target.table)
        if spec is None:
            ctx.table_relation(task.target.table, "target.table")  # reports with a suggestion
            return None
        if task.target.write_mode == "upsert" and not spec.primary_key:
            ctx.diagnostics.add("target.write_mode", "upsert-needs-primary-key",
                                f"upsert needs a primary key on {spec.name}, which has none",
                                "declare primary_key in the catalog, or use append/overwrite")
        return spec

    def _logical_query(self, task: Task, ctx: PlanContext, target: TableSpec | None) -> str | None:
        if isinstance(task, SqlTask):
            return self._render_sql_task(task, ctx)
        source = ctx.table_relation(task.source, "source")
        if source is None:
            return None
        wanted = {c.name.lower() for c in target.columns} if target is not None else None
        if isinstance(task, ChainedTask):
            return self._chained(task, source, ctx, wanted)
        ctx.wanted = wanted
        if isinstance(task, SyncTask):
            target_cols = _target_data_columns(target, task) if target is not None else None
            plan = plan_sync(task, source, "", ctx, target_columns=target_cols)
        else:
            plan = PLANNERS[task.kind](task, source, "", ctx)
        ctx.planned.append(("", task, source))
        if not ctx.diagnostics.ok:
            return None
        return render_template(ctx.engine, task.kind, **plan.template_context)

    def _chained(self, task: ChainedTask, source: Relation, ctx: PlanContext, wanted: set[str] | None
                 ) -> str | None:
        """Plan the steps twice: the first pass learns which columns each step's readers use, the second
        narrows every step's implicit pass-through to those (wide inputs cost the optimizer dearly)."""
        last = len(task.steps) - 1
        first = self._plan_steps(task, source, ctx, {last: wanted}, render=False)
        if first is None:
            return None
        needs = _needed_columns(first.reads, first.used, last, wanted)
        ctx.steps, ctx.planned = {}, []
        second = self._plan_steps(task, source, ctx, needs)
        if second is None or not ctx.diagnostics.ok:
            return None
        return render_template(ctx.engine, "chained", steps=second.rendered, columns=list(second.output.columns),
                               output=second.output.name)

    def _plan_steps(self, task: ChainedTask, source: Relation, ctx: PlanContext,
                    wanted: dict[int, set[str] | None], render: bool = True) -> _StepsPlan | None:
        result = _StepsPlan(output=source)
        previous = source
        index_of: dict[str, int] = {}
        for i, step in enumerate(task.steps):
            path = join_path("steps", i)
            reads = step.input
            producer: int | None = i - 1 if reads is None and i > 0 else index_of.get(reads or "")
            if reads is None:
                relation: Relation | None = previous
            elif reads in ctx.steps:
                relation = ctx.steps[reads]
            elif "." in reads:
                relation = ctx.table_relation(reads, join_path(path, "input"))
            else:
                ctx.diagnostics.add(join_path(path, "input"), "unknown-table",
                                    f"'{reads}' is neither an earlier step nor a logical table",
                                    "earlier steps: " + (", ".join(ctx.steps) or "none"))
                relation = None
            if relation is None:
                continue
            ctx.wanted = wanted.get(i)
            ctx.used = set()
            plan = PLANNERS[step.kind](step, relation, path, ctx)
            result.reads[i] = producer
            result.used[i] = ctx.used
            ctx.planned.append((path, step, relation))
            if render and ctx.diagnostics.ok:
                sql = render_template(ctx.engine, step.kind, **plan.template_context)
                result.rendered.append({"name": step.name, "sql": sql})
            previous = Relation(step.name, ctx.ident(step.name), plan.columns)
            ctx.steps[step.name] = previous
            index_of[step.name] = i
        ctx.wanted = None
        if not ctx.diagnostics.ok or previous is source:
            return None
        result.output = previous
        return result

    def _render_sql_task(self, task: SqlTask, ctx: PlanContext) -> str | None:
        def ref(name: str) -> str:
            relation = ctx.table_relation(str(name), "sql")
            return relation.ref_sql if relation else quote_table(str(name), ctx.dialect)

        variables = {**ctx.variables, "ref": ref}
        try:
            return render_string(task.sql, variables)
        except TemplateProblem as err:
            ctx.diagnostics.add("sql", "template-error", str(err),
                                "available variables: ref(), " + ", ".join(sorted(ctx.variables)))
            return None

    def _parse(self, sql: str, ctx: PlanContext, task: Task) -> exp.Query | None:
        path = "sql" if isinstance(task, SqlTask) else ""
        # Hand-written SQL is in its task's engine dialect; compiling for the other engine transpiles it.
        read = task.engine if isinstance(task, SqlTask) else ctx.dialect
        try:
            statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
        except (ParseError, TokenError) as err:
            ctx.diagnostics.add(path, "invalid-expression", f"the SQL does not parse: {str(err).splitlines()[0]}")
            return None
        except RecursionError:
            ctx.diagnostics.add(path, "invalid-expression", "the SQL is nested too deeply to parse",
                                "use CTEs (WITH ...) instead of deeply nested expressions")
            return None
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            ctx.diagnostics.add(path, "forbidden-expression", "a task's SQL is exactly one SELECT query",
                                "remove other statements; the INSERT is generated from 'target'")
            return None
        query = statements[0]
        if not ctx.allowed_calls(query, path):
            return None
        if isinstance(task, SqlTask):
            ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
            for table in query.find_all(exp.Table):
                name = f"{table.db}.{table.name}".lower() if table.db else table.name.lower()
                if name in ctx.tables or name in ctes or not table.name:
                    continue
                ctx.diagnostics.add("sql", "unknown-table",
                                    f"'{name}' is read without ref(): it would bypass the catalog",
                                    f"write {{{{ ref('{name}') }}}}" if table.db else
                                    "read catalog tables with {{ ref('namespace.table') }}")
            if not ctx.diagnostics.ok:
                return None
        return query

    def _optimize(
        self, query: exp.Query, schema: MappingSchema, ctx: PlanContext, optimize: bool,
        fallback: Callable[[], exp.Query],
    ) -> tuple[exp.Query, Columns]:
        """Optimize in place; `fallback` rebuilds the unoptimized query if the optimizer gives up."""
        full = OPTIMIZER_RULES if not ctx.planned else TEMPLATE_RULES  # nothing planned: a sql task
        rules = full if optimize else (optimizer.qualify, optimizer.annotate_types)
        kwargs: dict[str, Any] = {}
        # Templated kinds say whether they emit a window TVF; hand-written SQL has to be searched.
        has_tvf = ctx.window_tvf if ctx.planned else query.find(WindowTVF) is not None
        if has_tvf:
            # sqlglot cannot derive a window TVF's output columns (window_start, ...): qualify tables and
            # quote identifiers only; Flink's planner prunes and pushes down inside the window itself.
            rules = (optimizer.qualify, optimizer.simplify)
            kwargs = {"qualify_columns": False, "validate_qualify_columns": False}
        try:
            result = optimizer.optimize(query, schema=schema, dialect=ctx.dialect, rules=rules, copy=False,
                                        **kwargs)
        except (SqlglotError, RecursionError, ValueError, KeyError) as err:
            query = fallback()
            path = "sql" if ctx.planned == [] else ""
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            if "Column" in message and "could not be resolved" in message:
                ctx.diagnostics.add(path, "unknown-column", message)
                return query, {}
            ctx.diagnostics.add(path, "optimizer-fallback", f"optimizer failed, the unoptimized SQL is used: {message}")
            result = query
        output: Columns = {s.alias_or_name: _type_name(s) for s in result.selects}
        return result, output  # type: ignore[return-value]

    def _static_partition(self, task: Task, ctx: PlanContext, target: TableSpec | None) -> dict[str, str]:
        static: dict[str, str] = {}
        for key, value in task.target.partition.items():
            path = join_path("target", "partition", key)
            if target is not None and key.lower() not in {p.lower() for p in target.partition_by}:
                ctx.diagnostics.add(path, "target-schema-mismatch", f"{target.name} is not partitioned by '{key}'",
                                    "partition columns: " + (", ".join(target.partition_by) or "none"))
                continue
            rendered = ctx.render(value, path)
            if rendered is None:
                static[key] = value  # reported; keep the column out of the schema check
                continue
            if not _safe_partition_value(rendered):
                ctx.diagnostics.add(path, "invalid-config",
                                    f"partition value {rendered!r} names a folder outside the partition "
                                    "(a path separator, '..' or a control character)",
                                    "use a plain value, e.g. {{ ds }}")
                static[key] = rendered
                continue
            column = target.column(key) if target is not None else None
            if column is not None and not _fits(rendered, column.type):
                ctx.diagnostics.add(path, "type-mismatch",
                                    f"'{rendered}' is not a {column.type} value for partition column '{key}'",
                                    "e.g. {{ ds }} for a date partition")
            static[key] = rendered
        return static

    def _align_with_target(
        self, query: exp.Query, output: Columns, target: TableSpec, static: dict[str, str], task: Task,
        ctx: PlanContext, schema: MappingSchema, optimize: bool, stored: dict[str, str] | None = None,
    ) -> exp.Query | None:
        """Select the target's columns in the target's order, casting where types differ.

        `stored` overrides the types the sink stores for some columns (see EngineAdapter.sink_types)."""
        if any(isinstance(s, exp.Star) for s in query.selects):
            return query
        produced = {name.lower(): name for name in output}
        static_keys = {k.lower() for k in static}
        partition = [p.lower() for p in target.partition_by]
        ordered = [c for c in target.columns if c.name.lower() not in partition] + [
            c for p in target.partition_by if (c := target.column(p)) is not None
        ]
        projections: list[exp.Expr] = []
        # With the rule set to "warn" or "off" the task still compiles: missing columns become NULL,
        # extra columns are dropped, mismatched types are cast.
        errors_before = len(ctx.diagnostics.errors)
        for column in ordered:
            column_type = (stored or {}).get(column.name.lower(), column.type)
            if column.name.lower() in static_keys:
                continue
            name = produced.get(column.name.lower())
            if name is None:
                if column.nullable:
                    ctx.diagnostics.add("target.table", "missing-target-column",
                                        f"the result has no column '{column.name}'; {target.name} gets NULL there",
                                        "produce it, or silence this with lint: {missing-target-column: off}")
                else:
                    ctx.diagnostics.add("target.table", "target-schema-mismatch",
                                        f"the result has no column '{column.name}', which {target.name} requires",
                                        "result columns: " + ", ".join(output))
                null = exp.Cast(this=exp.null(), to=parse_type(column_type).copy())
                projections.append(exp.alias_(null, column.name, quoted=True))
                continue
            produced_type = output.get(name)
            expr: exp.Expr = exp.column(name, table="__fc_out", quoted=True)
            if (produced_type and produced_type != column_type) or column_type != column.type:
                pf, tf = family_of(produced_type), family_of(column_type)
                if TypeFamily.UNKNOWN not in (pf, tf) and pf != tf and not _castable(pf, tf):
                    ctx.diagnostics.add("target.table", "target-schema-mismatch",
                                        f"column '{column.name}' is {produced_type} "
                                        f"but {target.name} stores {column_type}",
                                        f"cast it to {column_type} in the task")
                if pf == TypeFamily.STRING and tf == TypeFamily.TEMPORAL:
                    ctx.diagnostics.add("target.table", "implicit-cast",
                                        f"column '{column.name}' is text written into {column_type}: values "
                                        "that are not dates/timestamps fail or become NULL",
                                        "parse it explicitly, e.g. TO_DATE(x, 'yyyy-MM-dd')")
                if produced_type and _narrows(produced_type, column_type):
                    ctx.diagnostics.add("target.table", "lossy-cast",
                                        f"column '{column.name}' is {produced_type}; writing it into "
                                        f"{column_type} drops the fraction",
                                        f"round it explicitly, or store it as {produced_type}")
                expr = exp.Cast(this=expr, to=parse_type(column_type).copy())
            projections.append(exp.alias_(expr, column.name, quoted=True))
        extra = [n for n in output if n.lower() not in {c.name.lower() for c in target.columns}]
        if extra:
            ctx.diagnostics.add("target.table", "target-schema-mismatch",
                                f"{target.name} has no column(s) {', '.join(extra)}",
                                "add them to the table in the catalog, or drop them from the task")
        if len(ctx.diagnostics.errors) > errors_before:
            return None
        if is_identity(projections, output):
            return query
        inlined = inline_projections(query, projections)
        if inlined is not None:
            if optimize and (inlined.args.get("with_") or inlined.find(exp.Subquery)):
                # Columns the target does not keep may now be unused below: prune them again.
                inlined = pushdown_projections(inlined)
            return inlined
        wrapped = exp.select(*projections).from_(query.subquery("__fc_out"))
        if not optimize:
            return wrapped
        unoptimized = wrapped.copy()
        aligned, _ = self._optimize(wrapped, schema, ctx, optimize, fallback=lambda: unoptimized)
        return aligned

    def _upsert(self, query: exp.Query, target: TableSpec, task: Task, ctx: PlanContext, schema: dict[str, Any],
                optimize: bool) -> exp.Query | None:
        current = ctx.table_relation(target.name, "target.table")
        if current is None:
            return None
        return upsert_query(query, target)

    def _physical(
        self, task: Task, ctx: PlanContext, target_spec: TableSpec | None, env: str, sink_location: str | None
    ) -> tuple[list[PhysicalTable], PhysicalTable | None]:
        adapter = ADAPTERS[ctx.engine]
        sources: list[PhysicalTable] = []
        for name, spec in ctx.tables.items():
            path = ctx.table_paths.get(name, "source")
            binding = check_binding(spec, ctx.engine, env, path, "source", ctx.diagnostics)
            if binding is not None:
                sources.append(adapter.source(spec, binding, watermark_seconds=ctx.watermark_delays.get(name),
                                              proctime=name in ctx.proctime_tables))
        if target_spec is None:
            return sources, None
        binding = check_binding(target_spec, ctx.engine, env, "target.table", "target", ctx.diagnostics)
        if binding is None:
            return sources, None
        if task.target.write_mode == "upsert" and not adapter.can_upsert(binding):
            ctx.diagnostics.add("target.write_mode", "unsupported-binding",
                                f"{ctx.engine} cannot upsert into a {binding.kind} binding",
                                "upsert into a jdbc or upsert-kafka binding, or run the task on spark")
            return sources, None
        if env != isolation.PROD:
            conflicts = isolation.write_conflicts(binding, self._prod)
            for conflict in conflicts:
                ctx.diagnostics.add("target.table", "env-isolation",
                                    conflict.describe(f"the {env} location of {target_spec.name}"),
                                    f"give {target_spec.name} a {env} location outside every prod location")
            if conflicts:
                return sources, None
        return sources, adapter.target(target_spec, binding, sink_location)

    def _script(self, result: CompiledTask, task: Task, ctx: PlanContext, target: TableSpec | None,
                in_place: bool = True) -> tuple[str, str]:
        assert result.target is not None and target is not None
        mode = task.target.write_mode
        dynamic = [p for p in target.partition_by if p.lower() not in {k.lower() for k in result.static_partition}]
        partition: list[tuple[str, str | None]] = []
        if result.static_partition:
            partition = [(k, v) for k, v in result.static_partition.items()] + [(p, None) for p in dynamic]
        settings: list[tuple[str, str]] = []
        overwrite = mode != "append"
        if ctx.engine == "spark":
            if mode == "overwrite_partition" and target.partition_by:
                settings.append(("spark.sql.sources.partitionOverwriteMode", "dynamic"))
        else:
            settings.append(("execution.runtime-mode", result.mode))
            if task.state_ttl:
                settings.append(("table.exec.state.ttl", f"{duration_seconds(task.state_ttl) * 1000} ms"))
            overwrite = overwrite and result.mode == "batch"  # streaming sinks only append/upsert
            partition = [(k, v) for k, v in partition if v is not None]
        context = {
            "task_name": task.name, "env": result.env, "ds": ctx.variables["ds"], "settings": settings,
            "mode": result.mode,
            "sources": [s.ddl for s in result.sources if s.ddl.get("kind") != "table"],
            "target": result.target.ddl, "overwrite": overwrite, "partition": partition,
            "query": result.query, "upsert_table": None,
        }
        if ctx.engine == "spark" and mode == "upsert" and in_place and result.target.ddl.get("kind") == "file":
            # An upsert reads the table it rewrites; Spark refuses to overwrite files it is reading, so a
            # script run as is goes through a managed scratch table. (`formcast run` writes to a staging
            # folder instead and needs no scratch copy.)
            context["upsert_table"] = f"fc_upsert__{target.namespace}__{target.short_name}"
        script = render_template(ctx.engine, "script", **context) + "\n"
        return script, render_template(ctx.engine, "sources", **context)


# --- helpers ------------------------------------------------------------------------------------


@dataclass
class _StepsPlan:
    output: Relation
    rendered: list[dict[str, str]] = field(default_factory=list)
    reads: dict[int, int | None] = field(default_factory=dict)  # step → the step it reads (None: a table)
    used: dict[int, set[str]] = field(default_factory=dict)  # step → input columns its fields name


def _needed_columns(reads: dict[int, int | None], used: dict[int, set[str]], last: int,
                    wanted: set[str] | None) -> dict[int, set[str] | None]:
    """Walk the steps backwards: a step must output what its readers name, plus what they pass on."""
    needs: dict[int, set[str] | None] = {last: wanted}
    for step in sorted(reads, reverse=True):
        if step == last:
            continue
        need: set[str] | None = set()
        for reader, producer in reads.items():
            if producer != step:
                continue
            passed_on = needs.get(reader, set())
            if passed_on is None or need is None:
                need = None  # a reader keeps everything: so must this step
            else:
                need |= used.get(reader, set()) | passed_on
        needs[step] = need
    return needs


def _schema(tables: dict[str, TableSpec], dialect: str) -> dict[str, Any]:
    """The optimizer's schema. Column names go in quoted: sqlglot parses schema keys as SQL, and a
    catalog column may be named `a;b` or `$x`."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for spec in tables.values():
        schema.setdefault(spec.namespace, {})[spec.short_name] = {
            exp.to_identifier(c.name, quoted=True).sql(dialect=dialect): c.type for c in spec.columns
        }
    return schema


_SIMPLE_TYPE_NAMES: dict[exp.DataType.Type, str | None] = {}


def _type_name(node: exp.Expr) -> str | None:
    """The canonical name of a node's annotated type (None when unknown)."""
    data_type = node.type
    if data_type is None or data_type.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    simple = not data_type.expressions and not data_type.args.get("values")
    if simple and data_type.this in _SIMPLE_TYPE_NAMES:
        return _SIMPLE_TYPE_NAMES[data_type.this]
    try:
        name = normalize_type(data_type.sql(dialect="spark"))
    except InvalidType:
        name = None
    if simple:
        _SIMPLE_TYPE_NAMES[data_type.this] = name
    return name


def _fits(value: str, type_sql: str) -> bool:
    """Whether a static partition value can be read as the partition column's type."""
    try:
        kind = parse_type(type_sql).this
    except InvalidType:
        return True
    try:
        if kind == exp.DataType.Type.DATE:
            date.fromisoformat(value)
        elif kind in exp.DataType.INTEGER_TYPES:
            int(value)
        elif kind in exp.DataType.REAL_TYPES:
            float(value)
    except ValueError:
        return False
    return True


def _safe_partition_value(value: str) -> bool:
    """A partition value becomes a folder name (`ds=<value>`): no separators, no `..`, no control characters."""
    return (value not in ("", ".", "..") and "/" not in value and "\\" not in value
            and not any(ord(ch) < 32 for ch in value))


def _narrows(produced: str, target: str) -> bool:
    """Fractional numbers written into an integer column lose their fraction."""
    fractional = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}
    try:
        return parse_type(produced).this in fractional and parse_type(target).this in exp.DataType.INTEGER_TYPES
    except InvalidType:
        return False


def _castable(produced: TypeFamily, target: TypeFamily) -> bool:
    """Implicit casts a user would expect: anything to string, numbers and dates to each other's text."""
    return target == TypeFamily.STRING or (produced, target) in {
        (TypeFamily.STRING, TypeFamily.TEMPORAL),
        (TypeFamily.TEMPORAL, TypeFamily.TEMPORAL),
    }


def _target_data_columns(target: TableSpec, task: SyncTask) -> Columns:
    return {c.name: c.type for c in target.columns}
