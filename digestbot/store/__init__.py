"""The database behind one interface: `Store(path)` is SQLite, `Store("postgresql://...")` is
PostgreSQL. No SQL lives outside this package."""

from .base import (
    MAX_UNCONFIRMED,
    SCHEMA_VERSION,
    ClaimLost,
    DigestGone,
    DigestItem,
    DigestRecord,
    RatingRefused,
    Store,
    StoreDamaged,
    StoreError,
    StoreOutdated,
    StoreUrlError,
    StoreWriteError,
    SubscriberState,
    is_postgres,
    merge_papers,
    now_utc,
    parse_ts,
    ts,
)
from .sqlite import probe as probe_sqlite

__all__ = [
    "MAX_UNCONFIRMED",
    "SCHEMA_VERSION",
    "ClaimLost",
    "DigestGone",
    "DigestItem",
    "DigestRecord",
    "RatingRefused",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreOutdated",
    "StoreUrlError",
    "StoreWriteError",
    "SubscriberState",
    "is_postgres",
    "merge_papers",
    "now_utc",
    "parse_ts",
    "probe_sqlite",
    "ts",
]
