"""Postgres (asyncpg) and Redis access. The rest of the server sees only Store, Cache and records."""

from chatd.persistence.cache import Cache, CacheUnavailable
from chatd.persistence.errors import Conflict, StoreError, StoreUnavailable
from chatd.persistence.store import Store

__all__ = ["Cache", "CacheUnavailable", "Conflict", "Store", "StoreError", "StoreUnavailable"]
