"""Errors the store raises; callers never see asyncpg or redis exception types."""

from redis.exceptions import RedisClusterException, RedisError


class StoreError(Exception):
    pass


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused for a transient reason; the caller should retry."""


class StoreContention(StoreUnavailable):
    """The transaction lost a deadlock or a serialization conflict with another one: running it again
    right away is likely to work."""


class Conflict(StoreError):
    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is already taken")
        self.field = field


class StaleRoom(StoreError):
    """Another process changed the room's membership or settings since this room actor loaded it: reload,
    check the requests again, and append again."""


class BlobDoomed(StoreError):
    """The upload's bytes are the blob the media collector is deleting right now: upload them again."""


class DeviceSignedOut(StoreError):
    """The signed-in device a write is for was signed out meanwhile (after its token was checked)."""


class CacheUnavailable(Exception):
    """Redis did not answer a check that must fail closed."""


# What a Redis call raises when Redis (or, on a cluster, every node it tried) does not answer: the cluster
# client's "cannot connect to any node" is a RedisClusterException, which is not a RedisError.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)
