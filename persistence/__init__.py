"""Postgres (asyncpg) and Redis access. The rest of the server sees only Store, Cache and records."""

from persistence.cache import Cache, CacheUnavailable
from persistence.errors import Conflict, StoreError, StoreUnavailable
from persistence.store import Store

__all__ = ["Cache", "CacheUnavailable", "Conflict", "Store", "StoreError", "StoreUnavailable"]
