"""Flink SQL dialect for sqlglot.

sqlglot ships no Flink dialect, so this module defines one as a small delta over Spark (the closest
parent: backtick identifiers, Hive-style DDL, Java date patterns, TIMESTAMPADD/TIMESTAMPDIFF and
TRY_CAST parsing). Importing the module registers it: ``parse_one(sql, read="flink")`` and
``expression.sql(dialect="flink")`` then work.

Flink-specific syntax and how it is represented in the AST:

* ``CREATE TABLE ... WITH ('k' = 'v')`` -> ``exp.Property`` nodes in ``exp.Properties``.
* ``c AS expr`` -> ``exp.ComputedColumnConstraint``; ``c T METADATA [FROM 'k'] [VIRTUAL]`` ->
  :class:`MetadataColumnConstraint`; ``WATERMARK FOR ts AS expr`` -> ``exp.WatermarkColumnConstraint``;
  ``PRIMARY KEY ... NOT ENFORCED`` keeps ``NOT ENFORCED`` in the constraint's ``options``.
* ``FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTE))`` ->
  ``exp.TableFromRows(this=Tumble(this=TableArgument(this=exp.Table(t)), timecol=Descriptor(ts),
  size=exp.Interval))``. :class:`Tumble`, :class:`Hop`, :class:`Cumulate` and :class:`Session` all derive
  from :class:`WindowTVF`; their args are named after Flink's named parameters (``this`` is DATA).
* ``t /*+ OPTIONS(...) */`` -> ``exp.Table(hints=[exp.Hint])``; query hints as in sqlglot.
* ``FOR SYSTEM_TIME AS OF expr`` -> ``exp.Version(this="TIMESTAMP", kind="AS OF")``.
* ``EXECUTE STATEMENT SET BEGIN ...; END`` (and the legacy ``BEGIN STATEMENT SET; ...; END``) ->
  :class:`StatementSet` holding the INSERT statements.

Optimizer limitation: ``qualify`` treats ``TABLE(<window TVF>)`` as a table function source
(``exp.TableFromRows`` is an ``exp.UDTF``) and qualifies/quotes the input table, but it cannot derive
the TVF's output columns (the input table's columns plus ``window_start``, ``window_end``,
``window_time``). So call it with ``validate_qualify_columns=False`` on queries that read a window
TVF: columns from it are then left as written (unqualified unless written ``alias.col``) and
``SELECT *`` is not expanded. With validation on, qualify raises ``OptimizeError`` ("Column
'window_start' could not be resolved"). ``DESCRIPTOR`` columns are identifiers, never resolved.
"""

from __future__ import annotations

import typing as t
from functools import lru_cache

from sqlglot import exp, generator, parser, transforms
from sqlglot.dialects.dialect import rename_func, unit_to_var
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator
from sqlglot.helper import seq_get
from sqlglot.parsers.spark import SparkParser
from sqlglot.tokens import Token, TokenType

__all__ = [
    "Cumulate",
    "Descriptor",
    "Flink",
    "FlinkGenerator",
    "FlinkParser",
    "Hop",
    "MetadataColumnConstraint",
    "Session",
    "StatementSet",
    "TableArgument",
    "Tumble",
    "WindowTVF",
    "flink_type",
]


# --------------------------------------------------------------------------------------------------
# Custom expression nodes
# --------------------------------------------------------------------------------------------------


class TableArgument(exp.Expression):
    """A table passed to a table-valued function: ``TABLE t [PARTITION BY k | (k1, k2)]``."""

    arg_types = {"this": True, "partition_by": False}


class Descriptor(exp.Expression):
    """``DESCRIPTOR(col, ...)``: columns (``exp.Identifier``) of the TVF's input table."""

    arg_types = {"expressions": True}


class WindowTVF(exp.Expression, exp.Func):
    """Base of Flink's windowing table-valued functions.

    ``this`` is the DATA argument (a :class:`TableArgument`), ``timecol`` the TIMECOL argument (a
    :class:`Descriptor`); the other args are the function's remaining named parameters, lower-cased.
    ``named`` records that the call used ``NAME => value`` arguments, so it is generated that way.
    """

    # Flink's parameter names, in positional order; arg_types keys are their lower-cased forms
    # (DATA -> "this", TIMECOL -> "timecol").
    PARAMETERS: t.ClassVar[tuple[str, ...]] = ()

    @classmethod
    def param_key(cls, parameter: str) -> str:
        return {"DATA": "this"}.get(parameter, parameter.lower())


class Tumble(WindowTVF):
    """``TUMBLE(DATA, TIMECOL, SIZE [, OFFSET])``."""

    PARAMETERS = ("DATA", "TIMECOL", "SIZE", "OFFSET")
    arg_types = {"this": True, "timecol": True, "size": True, "offset": False, "named": False}


class Hop(WindowTVF):
    """``HOP(DATA, TIMECOL, SLIDE, SIZE [, OFFSET])``."""

    PARAMETERS = ("DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET")
    arg_types = {
        "this": True,
        "timecol": True,
        "slide": True,
        "size": True,
        "offset": False,
        "named": False,
    }


class Cumulate(WindowTVF):
    """``CUMULATE(DATA, TIMECOL, STEP, SIZE [, OFFSET])``."""

    PARAMETERS = ("DATA", "TIMECOL", "STEP", "SIZE", "OFFSET")
    arg_types = {
        "this": True,
        "timecol": True,
        "step": True,
        "size": True,
        "offset": False,
        "named": False,
    }


class Session(WindowTVF):
    """``SESSION(DATA [PARTITION BY keys], TIMECOL, GAP)``; the keys live on the TableArgument."""

    PARAMETERS = ("DATA", "TIMECOL", "GAP")
    arg_types = {"this": True, "timecol": True, "gap": True, "named": False}


WINDOW_TVFS: dict[str, type[WindowTVF]] = {
    "TUMBLE": Tumble,
    "HOP": Hop,
    "CUMULATE": Cumulate,
    "SESSION": Session,
}


class MetadataColumnConstraint(exp.Expression, exp.ColumnConstraintKind):
    """``METADATA [FROM 'key'] [VIRTUAL]`` of a metadata column."""

    arg_types = {"this": False, "virtual": False}


class StatementSet(exp.Expression):
    """``EXECUTE STATEMENT SET BEGIN <insert>; ... END``; ``expressions`` are the statements."""

    arg_types = {"expressions": True}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------

# Reserved words of Flink's SQL parser (read from FlinkSqlParserImpl's metadata, Flink 2.3): an
# identifier spelled like one must be quoted, e.g. a Spark column named value or year.
_RESERVED_WORDS = """
    abs all allocate allow alter and any are array array_concat_agg array_max_cardinality as
    asensitive asymmetric at atomic authorization avg begin begin_frame begin_partition between
    bigint binary bit bitmap blob boolean both buckets by bytes call called cardinality cascaded
    case cast catalogs ceil ceiling char char_length character character_length check classifier
    clob close coalesce collate collect column comment commit condition connect connections
    constraint contains contains_substr continuous convert corr corresponding count covar_pop
    covar_samp create cross cube cume_dist current current_catalog current_date
    current_default_transform_group current_path current_role current_row current_schema
    current_time current_timestamp current_transform_group_for_type current_user cursor cycle
    databases date date_trunc datetime datetime_trunc day deallocate dec decimal declare default
    define delete dense_rank deref describe deterministic disallow disconnect distinct
    distributed distribution dot double drop dynamic each element else empty end end_frame
    end_partition equals escape every except exec execute exists exp explain extend extended
    external extract false fetch filter first_value float floor for foreign frame_row free
    freshness friday from full function functions fusion get global grant group group_concat
    grouping groups hash having hold hour identity ilike import in include indicator initial
    inner inout insensitive insert int integer intersect intersection interval into is join
    json_array json_arrayagg json_exists json_object json_objectagg json_query json_scope
    json_value lag language large last_value lateral lead leading left like like_regex limit ln
    local localtime localtimestamp lower match match_number match_recognize matches materialized
    max measures member merge method min minus minute mod models modifies modify module modules
    monday month multiset national natural nchar nclob new next no none normalize not nth_value
    ntile null nullif numeric occurrences_regex octet_length of offset old omit on one only open
    or order ordinal out outer over overlaps overlay parameter partition pattern per percent
    percent_rank percentile_cont percentile_disc period permute pivot portion position
    position_regex power precedes precision prepare prev primary procedure procedures qualify
    quarters range rank raw reads real recursive ref references referencing refresh refresh_mode
    regr_avgx regr_avgy regr_count regr_intercept regr_slope regr_sxx regr_sxy regr_syy release
    rename reset result resume return returns revoke right rlike rollback rollup row row_number
    rows running safe_cast safe_offset safe_ordinal saturday savepoint scala scope scroll search
    second seek select sensitive separator session_user set show similar skip smallint some
    specific specifictype sql sqlexception sqlstate sqlwarning sqrt start statement static
    stddev_pop stddev_samp stream string string_agg structured submultiset subset substring
    substring_regex succeeds sum sunday suspend symmetric system system_time system_user table
    tables tablesample then thursday time time_diff time_trunc timestamp timestamp_diff
    timestamp_ltz timestamp_trunc timezone_hour timezone_minute tinyint to trailing translate
    translate_regex translation treat trigger trim trim_array true truncate try_cast tuesday
    uescape union unique unknown unnest unpivot update upper upsert use user using value
    value_of values var_pop var_samp varbinary varchar variant varying versioning views
    watermark watermarks wednesday weeks when whenever where width_bucket window with within
    without year
"""
RESERVED_KEYWORDS = frozenset(_RESERVED_WORDS.split())

# Spark/Flink's default pattern of TO_TIMESTAMP / TO_DATE, omitted when generating.
DEFAULT_TIME_FORMAT = "'yyyy-MM-dd HH:mm:ss'"
DEFAULT_DATE_FORMAT = "'yyyy-MM-dd'"

# Plain TIMESTAMP-like types that Flink spells TIMESTAMP (there is no TIMESTAMP WITH TIME ZONE).
_PLAIN_TIMESTAMPS = (
    exp.DType.TIMESTAMP,
    exp.DType.TIMESTAMPTZ,
    exp.DType.TIMESTAMPNTZ,
    exp.DType.DATETIME,
)


def _as_date(expression: exp.Expr) -> exp.Expr:
    """Casts to DATE unless already a DATE: Spark's day functions take strings and timestamps too."""
    if isinstance(expression, exp.TsOrDsToDate) and not expression.args.get("format"):
        expression = expression.this
    if expression.is_type(exp.DType.DATE) or isinstance(
        expression, (exp.CurrentDate, exp.StrToDate, exp.DateFromParts)
    ):
        return expression
    return exp.cast(expression, exp.DType.DATE)


def _build_to_timestamp_ltz(args: list) -> exp.Expr:
    # TO_TIMESTAMP_LTZ(epoch[, precision]) is UnixToTime (precision 0 = seconds, 3 = millis,
    # default 3); the TO_TIMESTAMP_LTZ(string, format) overload stays an anonymous call.
    this, precision = [*args, None][:2]
    if len(args) <= 2 and (precision is None or precision.is_int):
        return exp.UnixToTime(this=this, scale=precision or exp.UnixToTime.MILLIS)
    return exp.Anonymous(this="TO_TIMESTAMP_LTZ", expressions=args)


def _build_unix_timestamp(args: list, dialect: Flink) -> exp.Expr:
    if not args:
        return exp.StrToUnix()
    fmt = args[1] if len(args) > 1 else None
    return exp.StrToUnix(this=args[0], format=fmt and dialect.format_time(fmt))


# --------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------


class FlinkParser(SparkParser):
    # CAST fails on invalid input in Flink (TRY_CAST returns NULL); Hive/Spark2's CAST does not.
    STRICT_CAST = True
    # Standard precedence: explicit JOINs bind tighter than commas (Hive makes commas CROSS JOINs).
    JOINS_HAVE_EQUAL_PRECEDENCE = False
    # SESSION is a keyword token; TUMBLE/HOP/CUMULATE are plain identifiers.
    FUNC_TOKENS = SparkParser.FUNC_TOKENS | {TokenType.SESSION}

    # Flink's niladic time functions (Hive drops CURRENT_TIME; LOCALTIME* would become columns).
    NO_PAREN_FUNCTIONS = {
        **SparkParser.NO_PAREN_FUNCTIONS,
        TokenType.CURRENT_TIME: exp.CurrentTime,
        TokenType.LOCALTIME: exp.Localtime,
        TokenType.LOCALTIMESTAMP: exp.Localtimestamp,
    }

    FUNCTIONS = {
        **SparkParser.FUNCTIONS,
        # Descriptor columns name columns of the TVF's input table, not of the enclosing query,
        # so they are kept as identifiers (the optimizer must not try to resolve them).
        "DESCRIPTOR": lambda args: Descriptor(
            expressions=[arg.this if isinstance(arg, exp.Column) else arg for arg in args]
        ),
        "ROW": exp.Struct.from_arg_list,
        "TABLE": lambda args: exp.TableFromRows(this=args[0]),
        "TO_TIMESTAMP_LTZ": _build_to_timestamp_ltz,
        "TO_TIMESTAMP": lambda args, dialect: exp.StrToTime(
            this=seq_get(args, 0),
            format=dialect.format_time(seq_get(args, 1) or DEFAULT_TIME_FORMAT),
        ),
        "TO_DATE": lambda args, dialect: exp.StrToDate(
            this=seq_get(args, 0),
            format=dialect.format_time(seq_get(args, 1) or DEFAULT_DATE_FORMAT),
        ),
        "UNIX_TIMESTAMP": _build_unix_timestamp,
    }
    # Flink-native names that must round-trip verbatim instead of being mapped to a node whose
    # canonical Flink spelling differs (APPROX_COUNT_DISTINCT is generated as COUNT(DISTINCT)).
    for _name in ("APPROX_COUNT_DISTINCT", "SPLIT", "DATE_ADD", "DATE_SUB", "DATEDIFF", "TRUNC"):
        FUNCTIONS.pop(_name, None)
    del _name

    FUNCTION_PARSERS = {
        **SparkParser.FUNCTION_PARSERS,
        **{name: (lambda self, n=name: self._parse_window_tvf(n)) for name in WINDOW_TVFS},
        "FLOOR": lambda self: self._parse_floor_to(),
    }

    def _parse_floor_to(self) -> exp.Expr:
        """`FLOOR(ts TO HOUR)` truncates a time: a TimestampTrunc, so types and transpiling follow."""
        node = self._parse_ceil_floor(exp.Floor)
        unit = node.args.get("to")
        if unit is not None:
            return exp.TimestampTrunc(this=node.this, unit=exp.var(unit.name.upper()))
        return node

    CONSTRAINT_PARSERS = {
        **SparkParser.CONSTRAINT_PARSERS,
        "METADATA": lambda self: self.expression(
            MetadataColumnConstraint(
                this=self._match(TokenType.FROM) and self._parse_string(),
                virtual=self._match_text_seq("VIRTUAL") or None,
            )
        ),
        "WATERMARK": lambda self: self.expression(
            exp.WatermarkColumnConstraint(
                this=self._match(TokenType.FOR) and self._parse_column(),
                expression=self._match(TokenType.ALIAS) and self._parse_disjunction(),
            )
        ),
    }

    SCHEMA_UNNAMED_CONSTRAINTS = {*SparkParser.SCHEMA_UNNAMED_CONSTRAINTS, "WATERMARK"}

    STATEMENT_PARSERS = {
        **SparkParser.STATEMENT_PARSERS,
        TokenType.EXECUTE: lambda self: self._parse_execute(),
        TokenType.BEGIN: lambda self: self._parse_begin(),
    }

    def _parse(
        self,
        parse_method: t.Callable[[parser.Parser], exp.Expr | None],
        raw_tokens: list[Token],
        sql: str | None = None,
    ) -> list[exp.Expr | None]:
        # Same chunking as sqlglot (one chunk per ';'-separated statement), except that a statement
        # set keeps its inner ';' separators up to its END, so it is parsed as one statement.
        self.reset()
        self.sql = sql or ""

        chunks: list[list[Token]] = [[]]
        in_statement_set = False
        open_cases = 0  # CASE ... END inside the statement set must not end it
        for i, token in enumerate(raw_tokens):
            if not chunks[-1] and _starts_statement_set(raw_tokens, i):
                in_statement_set = True
            elif in_statement_set and token.token_type == TokenType.CASE:
                open_cases += 1
            elif in_statement_set and token.token_type == TokenType.END:
                if open_cases:
                    open_cases -= 1
                else:
                    in_statement_set = False

            if token.token_type == TokenType.SEMICOLON and not in_statement_set:
                if token.comments:
                    chunks.append([token])
                if i < len(raw_tokens) - 1:
                    chunks.append([])
            else:
                chunks[-1].append(token)

        self._chunks = chunks
        return self._parse_batch_statements(parse_method=parse_method, sep_first_statement=False)

    def _parse_execute(self) -> exp.Expr | None:
        if self._match_text_seq("STATEMENT", "SET", "BEGIN"):
            return self._parse_statement_set()
        return self._parse_as_command(self._prev)

    def _parse_begin(self) -> exp.Expr | None:
        # Legacy SQL-client form: BEGIN STATEMENT SET; <insert>; ... END
        if self._match_text_seq("STATEMENT", "SET"):
            self._match(TokenType.SEMICOLON)
            return self._parse_statement_set()
        return SparkParser.STATEMENT_PARSERS[TokenType.BEGIN](self)

    def _parse_statement_set(self) -> StatementSet:
        statements = []
        while self._curr and not self._match(TokenType.END):
            if self._match(TokenType.SEMICOLON):
                continue
            statements.append(self._parse_statement())
        return self.expression(StatementSet(expressions=statements))

    def _parse_window_tvf(self, name: str) -> exp.Expr:
        # The legacy group-window functions (GROUP BY TUMBLE(ts, INTERVAL ...)) share these names:
        # only calls whose first argument is TABLE t or a named argument are window TVFs.
        if not (
            self._match(TokenType.TABLE, advance=False)
            or (self._next and self._next.token_type == TokenType.FARROW)
        ):
            args = self._parse_csv(lambda: self._parse_lambda())
            return self.expression(exp.Anonymous(this=name, expressions=args))

        klass = WINDOW_TVFS[name]
        kwargs: dict[str, t.Any] = {}
        for position, (param, value) in enumerate(self._parse_csv(self._parse_window_tvf_arg)):
            if param:
                kwargs["named"] = True
                if param not in klass.PARAMETERS:
                    self.raise_error(f"{name} has no parameter {param}")
                    continue
            elif position < len(klass.PARAMETERS):
                param = klass.PARAMETERS[position]
            else:
                self.raise_error(f"Too many arguments for {name}")
                continue
            kwargs[klass.param_key(param)] = value
        return self.validate_expression(klass(**kwargs))

    def _parse_window_tvf_arg(self) -> tuple[str | None, exp.Expr | None]:
        param = None
        if self._next and self._next.token_type == TokenType.FARROW:
            param = self._curr.text.upper()
            self._advance(2)

        if not self._match(TokenType.TABLE):
            return param, self._parse_assignment()

        table = self._parse_table_parts()
        partition_by = None
        if self._match(TokenType.PARTITION_BY):
            # Multiple keys must be parenthesized: a bare comma would end the argument.
            partition_by = (
                self._parse_wrapped_csv(self._parse_column)
                if self._match(TokenType.L_PAREN, advance=False)
                else [self._parse_column()]
            )
        return param, self.expression(TableArgument(this=table, partition_by=partition_by))

    def _parse_table_parts(
        self,
        schema: bool = False,
        is_db_reference: bool = False,
        wildcard: bool = False,
        fast: bool = False,
    ) -> exp.Table:
        table = super()._parse_table_parts(
            schema=schema, is_db_reference=is_db_reference, wildcard=wildcard, fast=fast
        )
        # Flink puts table hints right after the table name, before any alias:
        # t /*+ OPTIONS(...) */ AS a. _parse_table re-reads them through _parse_table_hints.
        if table and not fast and self._match(TokenType.HINT):
            hint = exp.maybe_parse(self._prev_comments[0], into=exp.Hint, dialect=self.dialect)
            self._prev_comments = None  # consumed as a hint, not a comment of the next node
            table.set("hints", [hint])
            self._table_hints = [hint]
        return table

    def _parse_table_hints(self) -> list[exp.Expr] | None:
        hints, self._table_hints = getattr(self, "_table_hints", None), None
        return hints or super()._parse_table_hints()

    def _parse_types(
        self,
        check_func: bool = False,
        schema: bool = False,
        allow_identifiers: bool = True,
        with_collation: bool = False,
    ) -> exp.Expr | None:
        # Skip Hive's VARCHAR(n) -> STRING rewrite in casts: Flink honors the length.
        return parser.Parser._parse_types(
            self,
            check_func=check_func,
            schema=schema,
            allow_identifiers=allow_identifiers,
            with_collation=with_collation,
        )


def _starts_statement_set(tokens: list[Token], index: int) -> bool:
    words = [token.text.upper() for token in tokens[index : index + 4]]
    return words[:4] == ["EXECUTE", "STATEMENT", "SET", "BEGIN"] or words[:3] == [
        "BEGIN",
        "STATEMENT",
        "SET",
    ]


# --------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------


def _window_tvf_sql(self: FlinkGenerator, expression: WindowTVF) -> str:
    named = expression.args.get("named")
    args = []
    for param in expression.PARAMETERS:
        value = expression.args.get(expression.param_key(param))
        if value is not None:
            if named:
                # OFFSET is a reserved word: as a parameter name it must be quoted
                name = self.sql(exp.to_identifier(param, quoted=param.lower() in RESERVED_KEYWORDS))
                args.append(f"{name} => {self.sql(value)}")
            else:
                args.append(self.sql(value))
    return f"{expression.sql_name()}({', '.join(args)})"


def _timestamp_add_sql(
    self: FlinkGenerator, expression: exp.TsOrDsAdd | exp.DateAdd | exp.TimestampAdd
) -> str:
    this = expression.this
    if isinstance(expression, exp.TsOrDsAdd):
        # Spark's DATE_ADD returns a DATE whatever its input (string, date or timestamp).
        this = _as_date(this)
    return self.func("TIMESTAMPADD", unit_to_var(expression), expression.expression, this)


def _timestamp_diff_sql(
    self: FlinkGenerator, expression: exp.DateDiff | exp.TsOrDsDiff | exp.TimestampDiff
) -> str:
    # TIMESTAMPDIFF(unit, start, end) is end - start, like DATEDIFF(end, start).
    start, end = expression.expression, expression.this
    if isinstance(expression, (exp.DateDiff, exp.TsOrDsDiff)):
        # DATEDIFF counts calendar days between the dates of its arguments.
        start, end = _as_date(start), _as_date(end)
    return self.func("TIMESTAMPDIFF", unit_to_var(expression) or exp.var("DAY"), start, end)


def _floor_to_sql(self: FlinkGenerator, expression: exp.TimestampTrunc | exp.DateTrunc) -> str:
    unit = unit_to_var(expression)
    if unit and unit.name.upper() == "WEEK":
        self.unsupported("Flink's FLOOR(x TO WEEK) starts weeks on Sunday, Spark's on Monday")
    return f"FLOOR({self.sql(expression, 'this')} TO {self.sql(unit)})"


def _str_to_time_sql(self: FlinkGenerator, expression: exp.StrToTime | exp.StrToDate) -> str:
    default = DEFAULT_TIME_FORMAT if isinstance(expression, exp.StrToTime) else DEFAULT_DATE_FORMAT
    fmt = self.format_time(expression)
    name = "TO_TIMESTAMP" if isinstance(expression, exp.StrToTime) else "TO_DATE"
    return self.func(name, expression.this, None if fmt == default else fmt)


def _ts_or_ds_to_date_sql(self: FlinkGenerator, expression: exp.TsOrDsToDate) -> str:
    # Flink's TO_DATE only parses strings; CAST also accepts TIMESTAMP, like Spark's TO_DATE(x).
    fmt = self.format_time(expression)
    if fmt and fmt != DEFAULT_DATE_FORMAT:
        return self.func("TO_DATE", expression.this, fmt)
    return self.sql(_as_date(expression.this))


def _str_to_unix_sql(self: FlinkGenerator, expression: exp.StrToUnix) -> str:
    this = expression.this
    if this is None or isinstance(this, exp.CurrentTimestamp):
        return "UNIX_TIMESTAMP()"
    fmt = self.format_time(expression)
    return self.func("UNIX_TIMESTAMP", this, None if fmt == DEFAULT_TIME_FORMAT else fmt)


def _unix_to_time_sql(self: FlinkGenerator, expression: exp.UnixToTime) -> str:
    scale = expression.args.get("scale")
    if scale is None:
        scale = exp.UnixToTime.SECONDS
    if not scale.is_int or scale.to_py() not in (0, 3):
        self.unsupported("TO_TIMESTAMP_LTZ only takes epoch seconds (0) or milliseconds (3)")
    return self.func("TO_TIMESTAMP_LTZ", expression.this, scale)


def _approx_distinct_sql(self: FlinkGenerator, expression: exp.ApproxDistinct) -> str:
    # APPROX_COUNT_DISTINCT only exists in Flink's batch mode; the exact count is always valid.
    return self.func("COUNT", exp.Distinct(expressions=[expression.this]))


def _regexp_split_sql(self: FlinkGenerator, expression: exp.RegexpSplit) -> str:
    self.unsupported("Flink's SPLIT takes a literal delimiter, not a regular expression")
    return self.func("SPLIT", expression.this, expression.expression)


class FlinkGenerator(SparkGenerator):
    RESERVED_KEYWORDS = set(RESERVED_KEYWORDS)
    INTERVAL_ALLOWS_PLURAL_FORM = False
    SUPPORTS_TEMPORAL_PRECISION = True
    TABLE_HINTS = False  # generated by table_parts, before the alias
    QUERY_HINTS = True
    WITH_PROPERTIES_PREFIX = "WITH"
    INSERT_OVERWRITE = " OVERWRITE"
    SET_ASSIGNMENT_REQUIRES_VARIABLE_KEYWORD = False
    NVL2_SUPPORTED = False
    TRY_SUPPORTED = False
    SUPPORTS_DECODE_CASE = False
    COMPUTED_COLUMN_WITH_TYPE = False

    PROPERTIES_LOCATION = {
        **SparkGenerator.PROPERTIES_LOCATION,
        # CREATE FUNCTION f AS 'com.acme.F' LANGUAGE JAVA: the language follows the class name.
        exp.LanguageProperty: exp.Properties.Location.POST_EXPRESSION,
    }

    TYPE_MAPPING = {
        **SparkGenerator.TYPE_MAPPING,
        exp.DType.BLOB: "BYTES",
        exp.DType.DATETIME: "TIMESTAMP",
        exp.DType.STRUCT: "ROW",
        exp.DType.TIME: "TIME",
        exp.DType.TIMESTAMPLTZ: "TIMESTAMP_LTZ",
        exp.DType.TIMESTAMPNTZ: "TIMESTAMP",
        exp.DType.TIMESTAMPTZ: "TIMESTAMP",
        exp.DType.VARBINARY: "VARBINARY",
    }

    TRANSFORMS = {
        **SparkGenerator.TRANSFORMS,
        # sqlglot only dispatches <key>_sql methods for its own node classes: register ours.
        **{klass: _window_tvf_sql for klass in WINDOW_TVFS.values()},
        Descriptor: lambda self, e: self.descriptor_sql(e),
        MetadataColumnConstraint: lambda self, e: self.metadatacolumnconstraint_sql(e),
        StatementSet: lambda self, e: self.statementset_sql(e),
        TableArgument: lambda self, e: self.tableargument_sql(e),
        exp.ApproxDistinct: _approx_distinct_sql,
        # Flink has no DIV operator: integral division is a truncating cast of the quotient.
        exp.IntDiv: lambda self, e: self.sql(
            exp.cast(exp.Div(this=e.this, expression=e.expression, typed=True), exp.DType.BIGINT)
        ),
        exp.VarMap: lambda self, e: "MAP[{}]".format(
            ", ".join(
                f"{self.sql(k)}, {self.sql(v)}"
                for k, v in zip(e.args["keys"].expressions, e.args["values"].expressions, strict=True)
            )
        ),
        exp.Array: lambda self, e: f"ARRAY[{self.expressions(e, flat=True)}]",
        exp.ApproxQuantile: rename_func("PERCENTILE"),
        exp.ComputedColumnConstraint: lambda self, e: f"AS {self.sql(e, 'this')}",
        # Keep Spark's DDL normalizations but not its temp-table storage provider.
        exp.Create: transforms.preprocess(
            [transforms.remove_unique_constraints, transforms.move_partitioned_by_to_schema_columns]
        ),
        # Niladic in Flink: CURRENT_TIMESTAMP() does not parse.
        exp.CurrentTime: lambda *_: "CURRENT_TIME",
        exp.CurrentTimestamp: lambda *_: "CURRENT_TIMESTAMP",
        exp.DateAdd: _timestamp_add_sql,
        exp.DateDiff: _timestamp_diff_sql,
        exp.DateTrunc: _floor_to_sql,
        exp.Length: rename_func("CHAR_LENGTH"),
        exp.PrimaryKeyColumnConstraint: lambda self, e: generator.Generator.primarykeycolumnconstraint_sql(
            self, e
        ),
        exp.Property: lambda self, e: f"{self.property_name(e, string_key=True)} = {self.sql(e, 'value')}",
        exp.Quantile: rename_func("PERCENTILE"),
        exp.RegexpSplit: _regexp_split_sql,
        # Flink has no QUALIFY / DISTINCT ON, and unnests with CROSS JOIN UNNEST, not EXPLODE.
        exp.Select: transforms.preprocess(
            [
                transforms.eliminate_qualify,
                transforms.eliminate_distinct_on,
                transforms.any_to_exists,
            ]
        ),
        exp.StrToDate: _str_to_time_sql,
        exp.StrToTime: _str_to_time_sql,
        exp.StrToUnix: _str_to_unix_sql,
        exp.TimestampAdd: _timestamp_add_sql,
        exp.TimestampDiff: _timestamp_diff_sql,
        exp.TimestampTrunc: _floor_to_sql,
        exp.TsOrDsAdd: _timestamp_add_sql,
        exp.TsOrDsDiff: _timestamp_diff_sql,
        exp.TsOrDsToDate: _ts_or_ds_to_date_sql,
        exp.UnixToTime: _unix_to_time_sql,
        exp.Unnest: lambda self, e: generator.Generator.unnest_sql(self, e),
    }

    def format_time(
        self,
        expression: exp.Expr,
        inverse_time_mapping: dict[str, str] | None = None,
        inverse_time_trie: dict | None = None,
    ) -> str | None:
        # Render patterns as written: Hive's generator rewrites parse patterns to their lenient
        # non-padded form (MM -> M), which changes what users wrote.
        return generator.Generator.format_time(self, expression, inverse_time_mapping, inverse_time_trie)

    def unnest_sql(self, expression: exp.Unnest) -> str:
        return generator.Generator.unnest_sql(self, expression)

    def bracket_sql(self, expression: exp.Bracket) -> str:
        # Flink has no ELEMENT_AT / TRY_ELEMENT_AT: subscripts are always arr[i] / map[key].
        return generator.Generator.bracket_sql(self, expression)

    def struct_sql(self, expression: exp.Struct) -> str:
        values = []
        for e in expression.expressions:
            if isinstance(e, exp.PropertyEQ):
                # Spark's struct(a, b) names its fields a and b; other names cannot be expressed.
                if e.name != e.expression.alias_or_name:
                    self.unsupported("Flink's ROW constructor has no field names")
                e = e.expression
            values.append(e)
        return self.func("ROW", *values)

    def datatype_sql(self, expression: exp.DataType) -> str:
        # BINARY/VARBINARY without a length are Spark's unbounded binary: Flink's BYTES.
        if expression.is_type(exp.DType.BINARY, exp.DType.VARBINARY) and not expression.expressions:
            return "BYTES"
        return super().datatype_sql(expression)

    def columndef_sql(self, expression: exp.ColumnDef, sep: str = " ") -> str:
        # ROW<`name` type>: always quote field names, many (value, timestamp, ...) are reserved.
        if isinstance(expression.parent, exp.DataType) and isinstance(expression.this, exp.Identifier):
            expression = expression.copy()
            expression.this.set("quoted", True)
        return generator.Generator.columndef_sql(self, expression, sep=sep)

    def table_parts(self, expression: exp.Table) -> str:
        hints = "".join(self.sql(hint) for hint in expression.args.get("hints") or [])
        return f"{super().table_parts(expression)}{hints}"

    def hint_sql(self, expression: exp.Hint) -> str:
        return f" /*+ {self.expressions(expression, sep=self.QUERY_HINT_SEP).strip()} */"

    def version_sql(self, expression: exp.Version) -> str:
        # Flink only has processing/event-time temporal joins: FOR SYSTEM_TIME AS OF <time attr>.
        if expression.name == "TIMESTAMP" and expression.text("kind") == "AS OF":
            return f"FOR SYSTEM_TIME AS OF {self.sql(expression, 'expression')}"
        return generator.Generator.version_sql(self, expression)

    def metadatacolumnconstraint_sql(self, expression: MetadataColumnConstraint) -> str:
        key = self.sql(expression, "this")
        key = f" FROM {key}" if key else ""
        virtual = " VIRTUAL" if expression.args.get("virtual") else ""
        return f"METADATA{key}{virtual}"

    def tableargument_sql(self, expression: TableArgument) -> str:
        keys = expression.args.get("partition_by") or []
        partition = ""
        if len(keys) == 1:
            partition = f" PARTITION BY {self.sql(keys[0])}"
        elif keys:
            partition = f" PARTITION BY ({self.expressions(sqls=keys, flat=True)})"
        return f"TABLE {self.sql(expression, 'this')}{partition}"

    def descriptor_sql(self, expression: Descriptor) -> str:
        return self.func("DESCRIPTOR", *expression.expressions)

    def statementset_sql(self, expression: StatementSet) -> str:
        statements = self.sep().join(f"{self.sql(e)};" for e in expression.expressions)
        return f"EXECUTE STATEMENT SET{self.sep()}BEGIN{self.sep()}{statements}{self.sep()}END"

    def regexpextract_sql(self, expression: exp.RegexpExtract) -> str:
        group = expression.args.get("group")
        # Flink's default group is 0 (the whole match); omit it only when it is that default.
        if group is not None and group.is_int and group.to_py() == 0:
            group = None
        return self.func("REGEXP_EXTRACT", expression.this, expression.expression, group)


# --------------------------------------------------------------------------------------------------
# Dialect
# --------------------------------------------------------------------------------------------------


class Flink(Spark):
    # int / int is an int in Flink (it truncates) and x / 0 fails instead of returning NULL.
    TYPED_DIVISION = True
    SAFE_DIVISION = False
    # Flink identifiers are case-sensitive (unlike Spark's).
    NORMALIZATION_STRATEGY = Spark.NORMALIZATION_STRATEGY.CASE_SENSITIVE
    # dim FOR SYSTEM_TIME AS OF o.proc_time AS d: the version comes before the alias.
    ALIAS_POST_VERSION = True
    REGEXP_EXTRACT_DEFAULT_GROUP = 0
    # Arrays are 1-indexed (arr[1] is the first element; Spark's arr[0]).
    INDEX_OFFSET = 1
    # Strings are '...' with '' escaping only: a backslash is an ordinary character.
    UNESCAPED_SEQUENCES: dict[str, str] = {}
    # Date-part functions and ranking functions return BIGINT in Flink (INT in Spark): typed so, the
    # compiler casts them when the target column is INT (Flink does not narrow BIGINT → INT implicitly).
    EXPRESSION_METADATA = {
        **Spark.EXPRESSION_METADATA,
        **{getattr(exp, name): {"returns": exp.DataType.Type.BIGINT}
           for name in ("Year", "Quarter", "Month", "Week", "WeekOfYear", "Day", "DayOfMonth", "DayOfWeek",
                        "DayOfYear", "Hour", "Minute", "Second", "Extract", "RowNumber", "Rank", "DenseRank",
                        "Ntile")
           if hasattr(exp, name)},
    }

    class Tokenizer(Spark.Tokenizer):
        QUOTES = ["'"]
        STRING_ESCAPES = ["'"]
        RAW_STRINGS: list[str | tuple[str, str]] = []
        NUMERIC_LITERALS: dict[str, str] = {}
        # A hint comment right after a table name is a table hint: t /*+ OPTIONS(...) */
        TOKENS_PRECEDING_HINT = {
            *Spark.Tokenizer.TOKENS_PRECEDING_HINT,
            TokenType.VAR,
            TokenType.IDENTIFIER,
        }

        # EXECUTE starts statements we parse (EXECUTE STATEMENT SET), not an opaque command.
        COMMANDS = Spark.Tokenizer.COMMANDS - {TokenType.EXECUTE}

        KEYWORDS = {
            **Spark.Tokenizer.KEYWORDS,
            "BYTES": TokenType.VARBINARY,
            "ROW": TokenType.STRUCT,
            # Flink's TIMESTAMP has no time zone (Spark2 maps it to TIMESTAMPTZ).
            "TIMESTAMP": TokenType.TIMESTAMP,
            "TIMESTAMP_LTZ": TokenType.TIMESTAMPLTZ,
        }

    Parser = FlinkParser

    Generator = FlinkGenerator


@lru_cache(maxsize=4096)
def flink_type(type_sql: str) -> str:
    """Converts a catalog column type in Spark SQL spelling into Flink DDL spelling.

    ``decimal(10,2)`` -> ``DECIMAL(10, 2)``, ``struct<a:int>`` -> ``ROW<`a` INT>``,
    ``binary`` -> ``BYTES``; a timestamp without precision becomes ``TIMESTAMP(3)`` (also inside
    nested types) because Flink event-time attributes need millisecond precision.
    """
    data_type = exp.DataType.build(type_sql, dialect="spark")
    for node in data_type.find_all(exp.DataType):
        if node.this in (*_PLAIN_TIMESTAMPS, exp.DType.TIMESTAMPLTZ) and not node.expressions:
            node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(3))])
    return data_type.sql(dialect="flink")
