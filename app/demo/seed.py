"""The demo: what a short-video app with an in-app shop produces, its catalog, and where it lives.

`seed_demo(home)` writes deterministic sample data (numpy with a fixed seed, no network) for the
source tables of `examples/catalog/demo.yaml`, for two environments:

* dev:  ~2,000 users, ~300 videos, 60 creators, 200 products, 30 countries,
        ~20,000 client events and ~3,000 orders per day;
* prod: a smaller, different sample (other seed, a tenth of the rows), so a test or a demo can
        tell which environment a run read.

Every table is written twice: hive-partitioned parquet for Spark
(`data/<env>/<ns>/<table>/ds=2024-06-01/part-0.parquet`) and header-less CSV for Flink
(`data/<env>/csv/<ns>/<table>/ds=2024-06-01/part-0.csv`). The `ds` partition column lives in
the folder name only, as Hive, Spark and Flink's filesystem connector expect.

It then loads the catalog file, replaces the literal `${FORMCAST_HOME}` in every path with the
absolute home, and returns the TableSpecs; registering them in the catalog store is the caller's
job (`register_demo(catalog, info)`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from catalog.loader import parse_table_specs
from catalog.spec import TableSpec

CATALOG_FILE = Path(__file__).resolve().parents[2] / "examples" / "catalog" / "demo.yaml"
HOME_PLACEHOLDER = "${FORMCAST_HOME}"
ENVS = ("dev", "prod")
PROD_SEED_OFFSET = 1_000


@dataclass(frozen=True)
class DemoSize:
    users: int
    videos: int
    creators: int
    products: int
    events_per_day: int
    orders_per_day: int


SIZES: dict[str, DemoSize] = {
    "dev": DemoSize(users=2_000, videos=300, creators=60, products=200,
                    events_per_day=20_000, orders_per_day=3_000),
    "prod": DemoSize(users=200, videos=50, creators=12, products=40,
                     events_per_day=2_000, orders_per_day=300),
}

COUNTRIES: list[tuple[str, str, str]] = [
    ("US", "United States", "NA"), ("CA", "Canada", "NA"), ("MX", "Mexico", "LATAM"),
    ("BR", "Brazil", "LATAM"), ("AR", "Argentina", "LATAM"), ("CO", "Colombia", "LATAM"),
    ("CL", "Chile", "LATAM"), ("GB", "United Kingdom", "EMEA"), ("DE", "Germany", "EMEA"),
    ("FR", "France", "EMEA"), ("ES", "Spain", "EMEA"), ("IT", "Italy", "EMEA"),
    ("NL", "Netherlands", "EMEA"), ("PL", "Poland", "EMEA"), ("SE", "Sweden", "EMEA"),
    ("TR", "Turkey", "EMEA"), ("EG", "Egypt", "EMEA"), ("NG", "Nigeria", "EMEA"),
    ("ZA", "South Africa", "EMEA"), ("SA", "Saudi Arabia", "EMEA"), ("IN", "India", "APAC"),
    ("ID", "Indonesia", "APAC"), ("JP", "Japan", "APAC"), ("KR", "South Korea", "APAC"),
    ("PH", "Philippines", "APAC"), ("VN", "Vietnam", "APAC"), ("TH", "Thailand", "APAC"),
    ("MY", "Malaysia", "APAC"), ("AU", "Australia", "APAC"), ("SG", "Singapore", "APAC"),
]
APP_VERSIONS = ["3.1.0", "3.1.1", "3.2.0", "3.2.1", "3.3.0", "3.3.1", "3.4.0", "3.4.1", "3.4.2"]
APP_VERSION_WEIGHTS = [0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.15, 0.20, 0.30]
PLATFORMS = ["ios", "android", "web"]
PLATFORM_WEIGHTS = [0.44, 0.46, 0.10]
AGE_BANDS = ["13-17", "18-24", "25-34", "35-44", "45-54", "55+"]
AGE_BAND_WEIGHTS = [0.10, 0.34, 0.28, 0.14, 0.08, 0.06]
EVENTS = ["open", "play", "like", "share", "purchase", "close"]
EVENT_WEIGHTS = [0.12, 0.55, 0.12, 0.04, 0.02, 0.15]
VIDEO_CATEGORIES = ["comedy", "music", "dance", "food", "gaming", "beauty", "sports", "education", "pets",
                    "travel"]
TIERS = ["bronze", "silver", "gold", "platinum"]
TIER_WEIGHTS = [0.50, 0.30, 0.15, 0.05]
PRODUCT_BRANDS: dict[str, list[str]] = {
    "electronics": ["Voltra", "Pixelon", "Sonique"],
    "beauty": ["Glowé", "Lumina", "Petal & Co"],
    "fashion": ["Northstitch", "Urbano", "Kiko Wear"],
    "home": ["Nestly", "Casa Viva", "Hearthline"],
    "toys": ["Bloxi", "Funforge"],
    "food": ["Crunchwell", "Spice Route"],
    "sports": ["Stridex", "Peakform"],
    "books": ["Inkwell Press", "Pageturn"],
    "pets": ["Pawsome", "Tailwag"],
    "garden": ["Greenleaf", "Terra"],
    "baby": ["Little Sprout", "Cuddle Co"],
    "outdoor": ["Trailmark", "Basecamp"],
}
ORDER_STATUSES = ["paid", "refunded", "cancelled"]
ORDER_STATUS_WEIGHTS = [0.88, 0.07, 0.05]
DISCOUNTS = ["0.00", "0.05", "0.10", "0.15", "0.20", "0.30", "0.50"]
DISCOUNT_WEIGHTS = [0.45, 0.15, 0.15, 0.10, 0.08, 0.05, 0.02]
# Share of the day's activity per UTC hour: quiet nights, a lunch bump, an evening peak.
HOUR_WEIGHTS = np.array([2, 1.5, 1, 1, 1, 1.5, 2.5, 3.5, 4, 4, 4.5, 5,
                         5.5, 5, 4.5, 4.5, 5, 5.5, 6.5, 7.5, 8, 7.5, 6, 4], dtype=float)
DUPLICATE_RATE = 0.005  # client retries: the same event (same event_id) sent twice

TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(10, 2)


@dataclass
class DemoInfo:
    """What `seed_demo` produced: where, for which days, the catalog, and how many rows."""

    home: Path
    data_dir: Path
    catalog_file: Path
    days: list[date]
    tables: list[TableSpec]
    env_dirs: dict[str, Path] = field(default_factory=dict)  # env → data/<env> (parquet; csv/ below)
    row_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # env → table → rows (all days)

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)

    def sources(self) -> list[TableSpec]:
        return [t for t in self.tables if t.namespace != "mart"]


# --- the data -----------------------------------------------------------------------------------


def _weights(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


def _zipf_weights(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed popularity over n items, in a random order (so id 1 is not always the star)."""
    weights = 1.0 / np.arange(1, n + 1) ** a
    return _weights(rng.permutation(weights))


def _pick(rng: np.random.Generator, values: list[str], weights: list[float], size: int) -> np.ndarray:
    return rng.choice(np.array(values, dtype=object), size=size, p=_weights(np.array(weights, dtype=float)))


def _money(cents: np.ndarray) -> pa.Array:
    return pa.array([Decimal(int(c)).scaleb(-2) for c in cents], type=MONEY)


def _day_timestamps(rng: np.random.Generator, day: date, size: int) -> np.ndarray:
    """Millisecond timestamps within `day` (UTC), following the daily activity curve."""
    hours = rng.choice(24, size=size, p=_weights(HOUR_WEIGHTS))
    ms = hours * 3_600_000 + rng.integers(0, 3_600_000, size=size)
    return np.datetime64(day.isoformat(), "ms") + ms.astype("timedelta64[ms]")


def _dimensions(rng: np.random.Generator, size: DemoSize, start: date) -> dict[str, Any]:
    """Users, creators, videos, products and countries, plus the per-entity skews events use."""
    codes = [c[0] for c in COUNTRIES]
    country_weights = _zipf_weights(len(codes), 0.9, rng)
    users = np.arange(100_001, 100_001 + size.users, dtype=np.int64)
    user_country = rng.choice(np.array(codes, dtype=object), size=size.users, p=country_weights)
    first_day = np.datetime64(start.isoformat(), "D")
    signup = first_day - rng.integers(1, 900, size=size.users).astype("timedelta64[D]")
    user_platform = _pick(rng, PLATFORMS, PLATFORM_WEIGHTS, size.users)
    user_version = _pick(rng, APP_VERSIONS, APP_VERSION_WEIGHTS, size.users)
    user_devices = [f"{rng.integers(0, 16**12):012x}" for _ in range(size.users)]
    user_activity = _zipf_weights(size.users, 0.8, rng)  # a few users are very active

    creators = np.arange(1, 1 + size.creators, dtype=np.int64)
    creator_names = [f"{adj}_{noun}{n}" for n, (adj, noun) in enumerate(zip(
        rng.choice(["happy", "lazy", "cosmic", "urban", "tiny", "wild", "golden", "midnight"], size.creators),
        rng.choice(["chef", "gamer", "dancer", "cat", "traveler", "coach", "artist", "dj"], size.creators),
        strict=True), start=1)]
    creator_weights = _zipf_weights(size.creators, 1.0, rng)

    videos = np.arange(500_001, 500_001 + size.videos, dtype=np.int64)
    video_creator = rng.choice(creators, size=size.videos, p=creator_weights)
    video_duration = np.clip(rng.lognormal(3.3, 0.7, size.videos), 5, 600).astype(np.int32)
    published = first_day - rng.integers(0, 365, size=size.videos).astype("timedelta64[D]")
    video_popularity = _zipf_weights(size.videos, 1.1, rng)  # a few videos go viral

    categories = list(PRODUCT_BRANDS)
    products = np.arange(9_001, 9_001 + size.products, dtype=np.int64)
    product_category = rng.choice(np.array(categories, dtype=object), size=size.products)
    product_brand = np.array([rng.choice(PRODUCT_BRANDS[c]) for c in product_category], dtype=object)
    list_cents = np.round(np.clip(rng.lognormal(3.2, 0.9, size.products), 1.99, 1500) * 100).astype(np.int64)
    product_popularity = _zipf_weights(size.products, 0.9, rng)

    tables = {
        "ref.countries": pa.table({
            "country_code": pa.array(codes, pa.string()),
            "country_name": pa.array([c[1] for c in COUNTRIES], pa.string()),
            "region": pa.array([c[2] for c in COUNTRIES], pa.string()),
        }),
        "app.users": pa.table({
            "user_id": pa.array(users, pa.int64()),
            "signup_date": pa.array(signup, pa.date32()),
            "country": pa.array(user_country, pa.string()),
            "age_band": pa.array(_pick(rng, AGE_BANDS, AGE_BAND_WEIGHTS, size.users), pa.string()),
            "is_vip": pa.array(rng.random(size.users) < 0.08, pa.bool_()),
        }),
        "app.creators": pa.table({
            "creator_id": pa.array(creators, pa.int64()),
            "creator_name": pa.array(creator_names, pa.string()),
            "tier": pa.array(_pick(rng, TIERS, TIER_WEIGHTS, size.creators), pa.string()),
        }),
        "app.videos": pa.table({
            "video_id": pa.array(videos, pa.int64()),
            "creator_id": pa.array(video_creator, pa.int64()),
            "category": pa.array(rng.choice(VIDEO_CATEGORIES, size=size.videos), pa.string()),
            "duration_s": pa.array(video_duration, pa.int32()),
            "published_date": pa.array(published, pa.date32()),
        }),
        "shop.products": pa.table({
            "product_id": pa.array(products, pa.int64()),
            "category": pa.array(product_category, pa.string()),
            "brand": pa.array(product_brand, pa.string()),
            "list_price": _money(list_cents),
        }),
    }
    skews = {
        "codes": np.array(codes, dtype=object), "users": users, "user_country": user_country,
        "user_platform": user_platform, "user_version": user_version,
        "user_devices": np.array(user_devices, dtype=object), "user_activity": user_activity,
        "videos": videos, "video_duration": video_duration, "video_popularity": video_popularity,
        "products": products, "list_cents": list_cents, "product_popularity": product_popularity,
    }
    return {"tables": tables, "skews": skews}


def _client_events(rng: np.random.Generator, size: DemoSize, day: date, s: dict[str, Any]) -> pa.Table:
    n = size.events_per_day
    who = rng.choice(len(s["users"]), size=n, p=s["user_activity"])
    event = _pick(rng, EVENTS, EVENT_WEIGHTS, n)
    video_idx = rng.choice(len(s["videos"]), size=n, p=s["video_popularity"])
    video = s["videos"][video_idx].astype(object)
    no_video = np.isin(event, ["open", "close"]) | ((event == "purchase") & (rng.random(n) < 0.5))
    video[no_video] = None
    # Plays watch part of the video (sometimes loop past its end); other events have no duration.
    watched = s["video_duration"][video_idx] * 1000 * np.clip(rng.beta(2, 2.5, n) * 1.3, 0.02, 3.0)
    duration = np.round(watched).astype(np.int64).astype(object)
    duration[event != "play"] = None
    country = s["user_country"][who].copy()
    travelling = rng.random(n) < 0.04
    country[travelling] = rng.choice(s["codes"], size=int(travelling.sum()))
    ids = rng.integers(0, 2**63 - 1, size=(n, 2), dtype=np.int64)
    event_id = np.array([f"{a:016x}{b:016x}" for a, b in ids], dtype=object)
    ts = _day_timestamps(rng, day, n)

    # Client retries: a few events are sent again, same event_id, a little later on the clock.
    dup = np.flatnonzero(rng.random(n) < DUPLICATE_RATE)
    retry_ts = ts[dup] + rng.integers(50, 3_000, size=len(dup)).astype("timedelta64[ms]")
    last_ms = np.datetime64(day.isoformat(), "ms") + np.timedelta64(86_399_999, "ms")
    retry_ts = np.minimum(retry_ts, last_ms)  # a retry stays in the day's partition
    rows = np.concatenate([np.arange(n), dup])
    all_ts = np.concatenate([ts, retry_ts])
    order = np.lexsort((rows, all_ts))
    rows, all_ts = rows[order], all_ts[order]
    return pa.table({
        "event_id": pa.array(event_id[rows], pa.string()),
        "user_id": pa.array(s["users"][who][rows], pa.int64()),
        "device_id": pa.array(s["user_devices"][who][rows], pa.string()),
        "event": pa.array(event[rows], pa.string()),
        "video_id": pa.array(video[rows], pa.int64()),
        "app_version": pa.array(s["user_version"][who][rows], pa.string()),
        "platform": pa.array(s["user_platform"][who][rows], pa.string()),
        "country": pa.array(country[rows], pa.string()),
        "duration_ms": pa.array(duration[rows], pa.int64()),
        "event_ts": pa.array(all_ts.astype("datetime64[us]"), TIMESTAMP),
    })


def _orders(rng: np.random.Generator, size: DemoSize, day: date, first_id: int,
            s: dict[str, Any]) -> pa.Table:
    n = size.orders_per_day
    buyer = rng.choice(s["users"], size=n, p=s["user_activity"])
    product_idx = rng.choice(len(s["products"]), size=n, p=s["product_popularity"])
    # Prices paid mostly equal the list price; flash sales and old app versions show other prices.
    jitter = np.where(rng.random(n) < 0.8, 1.0, rng.uniform(0.85, 1.1, n))
    price_cents = np.maximum(np.round(s["list_cents"][product_idx] * jitter), 1).astype(np.int64)
    video = rng.choice(s["videos"], size=n, p=s["video_popularity"]).astype(object)
    video[rng.random(n) < 0.4] = None  # bought from the shop tab, not from a video
    ts = np.sort(_day_timestamps(rng, day, n))
    quantity = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.70, 0.17, 0.07, 0.04, 0.02])
    discount = _pick(rng, DISCOUNTS, DISCOUNT_WEIGHTS, n)
    return pa.table({
        "order_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64), pa.int64()),
        "user_id": pa.array(buyer, pa.int64()),
        "product_id": pa.array(s["products"][product_idx], pa.int64()),
        "video_id": pa.array(video, pa.int64()),
        "quantity": pa.array(quantity, pa.int32()),
        "price": _money(price_cents),
        "discount": pa.array([Decimal(d) for d in discount], pa.decimal128(4, 2)),
        "status": pa.array(_pick(rng, ORDER_STATUSES, ORDER_STATUS_WEIGHTS, n), pa.string()),
        "order_ts": pa.array(ts.astype("datetime64[us]"), TIMESTAMP),
    })


def generate(size: DemoSize, seed: int, days: list[date]) -> dict[str, dict[str | None, pa.Table]]:
    """table → partition (ds, or None for unpartitioned tables) → rows. Pure: same input, same data."""
    rng = np.random.default_rng(seed)
    dims = _dimensions(rng, size, days[0])
    out: dict[str, dict[str | None, pa.Table]] = {name: {None: t} for name, t in dims["tables"].items()}
    out["app.client_events"], out["shop.orders"] = {}, {}
    next_order = 70_000_001
    for day in days:
        day_rng = np.random.default_rng([seed, day.toordinal()])  # a day's data does not depend on `days`
        out["app.client_events"][day.isoformat()] = _client_events(day_rng, size, day, dims["skews"])
        orders = _orders(day_rng, size, day, next_order + (day - days[0]).days * 1_000_000, dims["skews"])
        out["shop.orders"][day.isoformat()] = orders
    return out


# --- writing --------------------------------------------------------------------------------------


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as 'yyyy-MM-dd HH:mm:ss.SSS' (what Flink's csv format parses); the rest as is."""
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            values = column.cast(pa.timestamp("ms")).to_numpy(zero_copy_only=False)
            text = np.char.replace(np.datetime_as_string(values, unit="ms").astype(str), "T", " ")
            column = pa.array(text.tolist(), pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _write_table(parts: dict[str | None, pa.Table], parquet_dir: Path, csv_dir: Path) -> None:
    for ds, table in parts.items():
        sub = f"ds={ds}" if ds is not None else ""
        (parquet_dir / sub).mkdir(parents=True, exist_ok=True)
        (csv_dir / sub).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, parquet_dir / sub / "part-0.parquet", compression="snappy")
        # Flink's csv format reads every line as data: no header row. Empty fields are NULL
        # (the flink bindings set csv.null-literal = "").
        pacsv.write_csv(_csv_ready(table), csv_dir / sub / "part-0.csv",
                        write_options=pacsv.WriteOptions(include_header=False))


def _swap_in(new: Path, final: Path) -> None:
    """Replace `final` by `new` (same parent): the old folder is only removed once the new one is in."""
    trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.replace(final, trash)
    os.replace(new, final)
    shutil.rmtree(trash, ignore_errors=True)


def _write_env(data_dir: Path, env: str, data: dict[str, dict[str | None, pa.Table]]) -> dict[str, int]:
    staging = data_dir / f".{env}.staging-{uuid.uuid4().hex[:8]}"
    counts: dict[str, int] = {}
    try:
        for name, parts in data.items():
            ns, table = name.split(".")
            _write_table(parts, staging / ns / table, staging / "csv" / ns / table)
            counts[name] = sum(t.num_rows for t in parts.values())
        _swap_in(staging, data_dir / env)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


# --- the catalog ----------------------------------------------------------------------------------


def _substitute(node: Any, home: str) -> Any:
    if isinstance(node, str):
        return node.replace(HOME_PLACEHOLDER, home)
    if isinstance(node, list):
        return [_substitute(item, home) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, home) for key, value in node.items()}
    return node


def load_demo_tables(home: Path, catalog_file: Path = CATALOG_FILE) -> list[TableSpec]:
    """The demo catalog's TableSpecs with `${FORMCAST_HOME}` replaced by the absolute `home`."""
    data = yaml.safe_load(catalog_file.read_text(encoding="utf-8"))
    return parse_table_specs(_substitute(data, str(Path(home).resolve())), str(catalog_file))


def seed_demo(home: Path, *, days: int = 3, seed: int = 7, start: date = date(2024, 6, 1)) -> DemoInfo:
    """Write the demo's source data under `home/data/{dev,prod}` and return the catalog to register.

    Idempotent: each environment's folder is built aside and swapped in whole, so re-seeding
    leaves exactly the new data (outputs previously written under data/<env>/mart go too).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    home = Path(home).resolve()
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    day_list = [start + timedelta(days=i) for i in range(days)]
    info = DemoInfo(home=home, data_dir=data_dir, catalog_file=CATALOG_FILE, days=day_list,
                    tables=load_demo_tables(home))
    for env in ENVS:
        env_seed = seed if env == "dev" else seed + PROD_SEED_OFFSET
        info.row_counts[env] = _write_env(data_dir, env, generate(SIZES[env], env_seed, day_list))
        info.env_dirs[env] = data_dir / env
    return info


def register_demo(catalog: Any, info: DemoInfo) -> None:
    """Register the demo's tables in a catalog store (`catalog.store.Catalog`), all or nothing."""
    catalog.register_many(info.tables)


def describe(info: DemoInfo) -> str:
    """A short human summary: tables and row counts per environment."""
    lines = [f"demo data in {info.data_dir} for {info.days[0]} .. {info.days[-1]}"]
    for env, counts in info.row_counts.items():
        lines.append(f"  {env}: " + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m app.demo.seed [home]
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("FORMCAST_HOME", ".formcast"))
    print(describe(seed_demo(target)))
