"""Environment isolation: where a binding physically lives, normalized, and the one rule that keeps
writes outside prod away from production.

Every location is normalized before anything is compared, so two spellings of one place are one place:

* local paths by their real path: symlinks resolved and `..` applied the way the kernel applies them,
  `file:/x`, `file:///x`, `file://localhost/x` and percent-escapes read as the path they name, case
  (and Unicode form) folded where the filesystem ignores them;
* remote paths (`hdfs://`, `s3a://`, ...) by scheme (aliases merged), authority (default port added)
  and the normalized path;
* JDBC tables by (database family, servers, database, schema, table); file databases (SQLite, DuckDB,
  H2) by the real path of their file;
* engine catalog tables (Hive metastore, Spark or Flink catalogs) by (catalog, database, table);
* Kafka topics by (brokers, topic): two broker lists that share a broker are one cluster.

The rule (`Conflict`): a location written outside prod may be neither equal to, inside, nor a parent
of any prod location of any table.

Collecting prod locations (`prod_locations`) and comparing against them (`ProdIndex.conflicts`) are
separate steps: the compiler keeps one index per catalog snapshot, a run builds a fresh one just
before it publishes, and a database-backed lookup can replace the index behind `ProdLookup`.
A new binding kind adds its branch to `binding_locations`.
"""

from __future__ import annotations

import os
import posixpath
import re
import socket
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol
from urllib.parse import unquote

from catalog.errors import Problem
from catalog.spec import (
    Binding,
    ClickHouseBinding,
    FileBinding,
    JdbcBinding,
    KafkaBinding,
    TableBinding,
    TableSpec,
)

PROD = "prod"
SHOWN_CONFLICTS = 3  # per binding, in a registration error
Kind = Literal["path", "database", "catalog", "topic"]
Relation = Literal["equal", "inside", "contains"]


class LocationError(ValueError):
    """A location that cannot be read as a place (e.g. a NUL byte in a path)."""


@dataclass(frozen=True)
class Location:
    """One normalized physical place. `scope` says where `parts` are compared: (scheme, authority) of a
    path, (family, database) of a database table; `servers` (databases, Kafka) match when they share one."""

    kind: Kind
    scope: tuple[str, ...]
    parts: tuple[str, ...]
    shown: str
    servers: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return self.shown


def relation(candidate: Location, prod: Location) -> Relation | None:
    """How `candidate` sits relative to `prod`: the same place, inside it, containing it, or apart (None)."""
    if candidate.kind != prod.kind or not _same_scope(candidate, prod):
        return None
    if candidate.parts == prod.parts:
        return "equal"
    if candidate.kind != "path":
        return None
    shorter = min(len(candidate.parts), len(prod.parts))
    if candidate.parts[:shorter] != prod.parts[:shorter]:
        return None
    return "inside" if len(candidate.parts) > len(prod.parts) else "contains"


def _same_scope(a: Location, b: Location) -> bool:
    if a.kind == "path":
        # An authority left out (hdfs:///x) is the cluster's default one: it may be any of them.
        return a.scope[0] == b.scope[0] and (a.scope[1] == b.scope[1] or "" in (a.scope[1], b.scope[1]))
    if a.scope != b.scope:
        return False
    return not a.servers or not b.servers or bool(a.servers & b.servers)


# --- paths -----------------------------------------------------------------------------------

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):(.*)$", re.S)
LOCAL_SCHEMES = frozenset({"file", "local"})
SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "abfss": "abfs", "wasbs": "wasb", "gcs": "gs", "viewfs": "viewfs"}
PATH_DEFAULT_PORTS = {"hdfs": 8020, "webhdfs": 9870, "swebhdfs": 9871}
LOCALHOST_ALIASES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "ip6-localhost"})


def path_location(raw: str, *, cwd: str | None = None) -> Location:
    """A path or URI as the place it names (`cwd` resolves relative paths; default: the working directory)."""
    text = raw.strip()
    if "\x00" in text:
        raise LocationError(f"{raw!r} contains a NUL byte")
    match = _SCHEME.match(text)
    if match is None:
        return _local(os.path.expanduser(text), cwd)
    scheme, rest = match.group(1).lower(), match.group(2)
    authority, path = _split_authority(rest)
    if scheme in LOCAL_SCHEMES and _host(authority) in ("", "localhost"):
        return _local(unquote(path), cwd)
    scheme = SCHEME_ALIASES.get(scheme, scheme)
    host = _authority(authority, PATH_DEFAULT_PORTS.get(scheme))
    parts = tuple(p for p in posixpath.normpath("/" + unquote(path)).split("/") if p)
    return Location("path", (scheme, host), parts, f"{scheme}://{host}/{'/'.join(parts)}")


def has_scheme(raw: str) -> bool:
    """Whether `raw` is spelled as a URI (`file:/x`, `hdfs://nn/x`) rather than a plain path."""
    return _SCHEME.match(raw.strip()) is not None


def local_path(raw: str) -> str | None:
    """The local filesystem path a path or `file:` URI names (made absolute, not resolved); None if remote."""
    text = raw.strip()
    match = _SCHEME.match(text)
    if match is None:
        return os.path.abspath(os.path.expanduser(text))
    authority, path = _split_authority(match.group(2))
    if match.group(1).lower() in LOCAL_SCHEMES and _host(authority) in ("", "localhost"):
        return os.path.abspath(unquote(path))
    return None


def real_path(raw: str, *, cwd: str | None = None) -> str | None:
    """The real path (symlinks resolved) of a local path or `file:` URI; None if it is remote."""
    location = path_location(raw, cwd=cwd)
    return location.shown if location.scope == ("file", "") else None


def _split_authority(rest: str) -> tuple[str, str]:
    """`//host/p` → (host, /p); `///p` → ('', /p); `/p` or `p` → ('', p)."""
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        return authority, slash + path
    return "", rest


def _host(authority: str) -> str:
    host = authority.rpartition("@")[2].lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return "localhost" if host in _local_names() else host


@lru_cache(maxsize=1)
def _local_names() -> frozenset[str]:
    return LOCALHOST_ALIASES | {socket.gethostname().lower()}


def _authority(authority: str, default_port: int | None) -> str:
    """host:port, lower-cased, credentials dropped, the default port made explicit."""
    hostport = authority.rpartition("@")[2].lower()
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port = after.lstrip(":")
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    host = "localhost" if host in _local_names() else host
    if not port and default_port is not None and host:
        port = str(default_port)
    return f"{host}:{port}" if port else host


def _local(path: str, cwd: str | None) -> Location:
    joined = path if os.path.isabs(path) else os.path.join(cwd or os.getcwd(), path)
    real = os.path.realpath(joined)  # `..` after a symlink climbs from its target, as the kernel does
    if real.startswith("//"):
        real = "/" + real.lstrip("/")
    parts = tuple(p for p in real.split("/") if p)
    if _folds_case(real):
        parts = tuple(unicodedata.normalize("NFC", p).casefold() for p in parts)
    return Location("path", ("file", ""), parts, "/" + "/".join(parts))


def _folds_case(real: str) -> bool:
    """Whether the filesystem holding `real` (its nearest existing folder) ignores case."""
    existing = real
    while not os.path.lexists(existing) and existing != os.path.dirname(existing):
        existing = os.path.dirname(existing)
    try:
        device = os.stat(existing).st_dev
    except OSError:
        return False
    return _device_folds_case(device, existing)


@lru_cache(maxsize=256)
def _device_folds_case(device: int, sample: str) -> bool:
    """Probe once per device: does a cased name of an existing folder resolve under its swapped case?"""
    probe = sample
    while probe != os.path.dirname(probe):
        name = os.path.basename(probe)
        if name.swapcase() != name:
            other = os.path.join(os.path.dirname(probe), name.swapcase())
            try:
                return os.path.samestat(os.lstat(probe), os.lstat(other))
            except OSError:
                return False
        probe = os.path.dirname(probe)
    return False


# --- databases, catalogs, topics ----------------------------------------------------------------

DB_FAMILIES = {"mariadb": "mysql", "postgres": "postgresql", "pgsql": "postgresql", "jtds": "sqlserver"}
DB_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "sqlserver": 1433, "oracle": 1521, "clickhouse": 8123,
                    "db2": 50000, "redshift": 5439, "snowflake": 443, "vertica": 5433, "trino": 8080}
DB_DEFAULT_SCHEMAS = {"postgresql": "public", "redshift": "public", "sqlserver": "dbo"}
SCHEMA_IS_DATABASE = frozenset({"mysql", "clickhouse"})  # `db.table` names another database
FILE_DATABASES = frozenset({"sqlite", "duckdb", "h2", "derby", "hsqldb"})
KAFKA_DEFAULT_PORT = 9092
_IDENT_PART = re.compile(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|([^.]+)')


def identifier_parts(name: str) -> tuple[str, ...]:
    """`"My Schema".T` → ('my schema', 't'): dot-separated, quotes removed, case folded (two spellings
    that might be one table are treated as one)."""
    parts: list[str] = []
    for match in _IDENT_PART.finditer(name.strip()):
        text = next(g for g in match.groups() if g is not None)
        parts.append(text.strip().lower())
    return tuple(p for p in parts if p)


def jdbc_location(url: str, table: str) -> Location:
    """A table behind a JDBC URL: (family, servers, database) scope, (schema, table) parts."""
    text = url.strip()
    if text.lower().startswith("jdbc:"):
        text = text[5:]
    sub, _, rest = text.partition(":")
    family = DB_FAMILIES.get(sub.lower(), sub.lower())
    names = identifier_parts(table)
    if family in FILE_DATABASES:
        file = re.split(r"[;?]", rest.removeprefix("file:"), maxsplit=1)[0]
        base = path_location(file)
        return Location("path", base.scope, (*base.parts, f"#{'.'.join(names)}"), f"{base.shown}#{'.'.join(names)}")
    servers, database, params = _db_address(family, rest)
    if family in SCHEMA_IS_DATABASE and len(names) >= 2:
        database, names = names[-2], names[-2:]
    elif len(names) >= 3:
        database, names = names[-3], names[-2:]
    if len(names) == 1:
        default = params.get("currentschema") or DB_DEFAULT_SCHEMAS.get(family, "")
        schema = database if family in SCHEMA_IS_DATABASE else default.lower()
        names = (schema, names[0])
    server_text = ",".join(sorted(servers)) or "?"
    shown = f"{family}://{server_text}/{database}/{'.'.join(names)}"
    return Location("database", (family, database), names, shown, frozenset(servers))


def _db_address(family: str, rest: str) -> tuple[set[str], str, dict[str, str]]:
    """Servers, database and lower-cased parameters of what follows `jdbc:<sub>:`."""
    if family == "oracle" and "@" in rest:
        rest = rest.partition("@")[2]
        if not rest.startswith("//"):  # host:port:sid
            host, _, tail = rest.partition(":")
            port, _, sid = tail.partition(":")
            return {_authority(f"{host}:{port}" if port else host, DB_DEFAULT_PORTS["oracle"])}, sid.lower(), {}
    body, params = _split_params(rest)
    default_port = DB_DEFAULT_PORTS.get(family)
    if body.startswith("//"):
        authority, _, database = body[2:].partition("/")
        hosts = [h for h in authority.rpartition("@")[2].split(",") if h]
        servers = {_authority(h.partition("\\")[0], default_port) for h in hosts}
    else:  # jdbc:postgresql:shop means localhost's default port
        servers, database = {_authority("localhost", default_port)}, body
    database = params.get("databasename") or params.get("database") or database
    return servers, database.strip("/").lower(), params


def _split_params(text: str) -> tuple[str, dict[str, str]]:
    cut = min((i for i in (text.find("?"), text.find(";")) if i >= 0), default=len(text))
    params: dict[str, str] = {}
    for item in re.split(r"[;&?]", text[cut:]):
        key, eq, value = item.partition("=")
        if eq:
            params[key.strip().lower()] = value.strip()
    return text[:cut], params


def catalog_table_location(name: str) -> Location:
    """A table in an engine's catalog: the default catalog and database under any of their names are one."""
    parts = identifier_parts(name)
    table = parts[-1] if parts else ""
    database = parts[-2] if len(parts) >= 2 else "default"
    catalog = parts[-3] if len(parts) >= 3 else ""
    if catalog in ("spark_catalog", "default_catalog", "hive"):
        catalog = ""
    if database == "default_database":
        database = "default"
    return Location("catalog", ("catalog",), (catalog, database, table), ".".join(p for p in (catalog, database, table)
                                                                             if p))


def kafka_location(servers: str, topic: str) -> Location:
    brokers = frozenset(_authority(s.strip(), KAFKA_DEFAULT_PORT) for s in servers.split(",") if s.strip())
    return Location("topic", ("kafka",), (topic,), f"kafka://{','.join(sorted(brokers))}/{topic}", brokers)


def binding_locations(binding: Binding) -> list[Location]:
    """Every physical place a binding reads or writes (none for generators and discarding sinks)."""
    if isinstance(binding, FileBinding):
        return [path_location(binding.path)]
    if isinstance(binding, JdbcBinding):
        return [jdbc_location(binding.url, binding.table)]
    if isinstance(binding, ClickHouseBinding):
        url = binding.url if binding.url.lower().startswith("jdbc:") else f"jdbc:{binding.url}"
        return [jdbc_location(url, f"{binding.database}.{binding.table}")]
    if isinstance(binding, KafkaBinding):
        return [kafka_location(binding.bootstrap_servers, binding.topic)]
    if isinstance(binding, TableBinding):
        return [catalog_table_location(binding.table)]
    return []


# --- collecting and comparing -------------------------------------------------------------------


@dataclass(frozen=True)
class Owned:
    """A location and the binding it belongs to."""

    location: Location
    table: str
    engine: str
    env: str


@dataclass(frozen=True)
class Conflict:
    """`location` (written outside prod) is equal to, inside, or a parent of `prod`'s location."""

    location: Location
    prod: Owned
    relation: Relation

    def describe(self, subject: str = "it") -> str:
        where = {"equal": "is", "inside": "lies inside", "contains": "contains"}[self.relation]
        place = "" if self.relation == "equal" and self.location.shown == self.prod.location.shown else \
            f" ({self.location})"
        return (f"{subject}{place} {where} the prod location of {self.prod.table} ({self.prod.location}, "
                f"{self.prod.engine})")


class ProdLookup(Protocol):
    def conflicts(self, location: Location) -> list[Conflict]: ...


class ProdIndex:
    """Prod locations indexed for the three questions: the same place, one of its parents, one below it."""

    def __init__(self, owned: Iterable[Owned] = ()) -> None:
        self._at: dict[tuple[str, str, tuple[str, ...]], list[Owned]] = defaultdict(list)
        self._below: dict[tuple[str, str, tuple[str, ...]], list[Owned]] = defaultdict(list)
        for item in owned:
            self.add(item)

    def add(self, item: Owned) -> None:
        loc = item.location
        self._at[(loc.kind, loc.scope[0], loc.parts)].append(item)
        if loc.kind == "path":
            for depth in range(len(loc.parts)):
                self._below[(loc.kind, loc.scope[0], loc.parts[:depth])].append(item)

    def conflicts(self, location: Location) -> list[Conflict]:
        kind, head, parts = location.kind, location.scope[0], location.parts
        found = list(self._at.get((kind, head, parts), ()))
        if kind == "path":
            for depth in range(len(parts)):
                found += self._at.get((kind, head, parts[:depth]), ())
            found += self._below.get((kind, head, parts), ())
        out: list[Conflict] = []
        for item in found:
            rel = relation(location, item.location)
            if rel is not None:
                out.append(Conflict(location, item, rel))
        return out


def spec_locations(spec: TableSpec, *, prod: bool) -> Iterator[Owned]:
    """The locations of a table's prod bindings (prod=True) or of all its other bindings."""
    for engine, envs in spec.bindings.items():
        for env, binding in envs.items():
            if (env == PROD) == prod:
                for location in binding_locations(binding):
                    yield Owned(location, spec.name, engine, env)


def prod_locations(specs: Iterable[TableSpec]) -> Iterator[Owned]:
    """Collect: every prod location of every table."""
    for spec in specs:
        yield from spec_locations(spec, prod=True)


def write_conflicts(binding: Binding, prod: ProdLookup) -> list[Conflict]:
    """Compare: where writing `binding` outside prod would touch a prod location."""
    return [c for location in binding_locations(binding) for c in prod.conflicts(location)]


def path_conflicts(path: str, prod: ProdLookup) -> list[Conflict]:
    """Compare a path about to be written (run time: the staging folder, the target) with prod."""
    return prod.conflicts(path_location(path))


def registration_problems(new: Sequence[TableSpec], existing: Mapping[str, TableSpec]) -> list[Problem]:
    """Bindings outside prod that would reach into a prod tree, in a registration of `new` over `existing`.

    A binding may equal its own table's prod location (dev reads prod data; every write there is refused
    at compile and run time), but not lie inside or above it, nor touch another table's prod location.
    A new prod binding may not cover a location another table already uses outside prod."""
    merged = {**existing, **{spec.name: spec for spec in new}}
    index = {spec.name: i for i, spec in enumerate(new)}
    prefix = (lambda i: f"tables[{i}].") if len(new) > 1 else (lambda i: "")
    problems: list[Problem] = []
    prod = ProdIndex(prod_locations(merged.values()))
    for i, spec in enumerate(new):
        for owned in spec_locations(spec, prod=False):
            found = [c for c in prod.conflicts(owned.location)
                     if not (c.relation == "equal" and c.prod.table == spec.name)]
            found.sort(key=lambda c: c.prod.table)
            for conflict in found[:SHOWN_CONFLICTS]:
                problems.append(Problem(f"{prefix(i)}bindings.{owned.engine}.{owned.env}",
                                        conflict.describe(f"the {owned.env} location") +
                                        f": give {spec.name} a {owned.env} location outside every prod tree"))
            if len(found) > SHOWN_CONFLICTS:
                problems.append(Problem(f"{prefix(i)}bindings.{owned.engine}.{owned.env}",
                                        f"... and {len(found) - SHOWN_CONFLICTS} more prod location(s)"))
    new_prod = ProdIndex(prod_locations(new))
    for spec in existing.values():
        if spec.name in index:
            continue
        for owned in spec_locations(spec, prod=False):
            for conflict in new_prod.conflicts(owned.location):
                if conflict.relation == "equal" and conflict.prod.table == spec.name:
                    continue
                i = index[conflict.prod.table]
                problems.append(Problem(
                    f"{prefix(i)}bindings.{conflict.prod.engine}.{PROD}",
                    f"the prod location {conflict.prod.location} would cover the {owned.env} location of "
                    f"{spec.name} ({owned.location}, {conflict.relation}): a {owned.env} run could write prod"))
    return problems
