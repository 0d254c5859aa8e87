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
    StoreUrlError,
    StoreWriteError,
    SubscriberState,
    is_postgres,
    merge_papers,
    now_utc,
    parse_ts,
    ts,
)

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
    "StoreUrlError",
    "StoreWriteError",
    "SubscriberState",
    "is_postgres",
    "merge_papers",
    "now_utc",
    "parse_ts",
    "ts",
]
