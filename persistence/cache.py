"""Redis (redis-py asyncio client, bridged into trio): rate limits, the login throttle, slots (uploads at
once), presence and pending QR logins (persistence/qr_logins.py).

Redis holds nothing that must survive: when it is down, rate limits fail open and presence is
unknown, and chat goes on (messages live in Postgres). Each failure is logged, never raised, except
where a guard must fail closed: the login throttle and `hit(..., fail_open=False)` (signup) raise
CacheUnavailable, and password checks and signups are refused with `retry` until Redis is back.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from chatd.persistence.bridge import aio, concurrently
from chatd.persistence.errors import REDIS_ERRORS, CacheUnavailable
from chatd.persistence.qr_logins import SCRIPTS as QR_SCRIPTS
from chatd.persistence.qr_logins import QrLoginCache

log = logging.getLogger("chatd.cache")

REDIS_POOL_SIZE = 64  # connections to one Redis server (callers past that wait for one)
CLUSTER_POOL_SIZE = 1024  # connections per node of a Redis Cluster (past that a call fails: degraded, logged)
PRESENCE_BUCKETS = 64  # a cluster's presence keys spread over this many slots
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}


async def _connect(url: str, mode: Literal["auto", "yes", "no"]) -> aredis.Redis | aredis.RedisCluster:
    # a bounded pool that makes callers wait for a free connection (redis-py's default pool raises
    # "Too many connections" past 100 callers, which would fail rate limits open under load)
    pool = aredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL_SIZE, timeout=2.0, **_TIMEOUTS)
    single = aredis.Redis(connection_pool=pool)
    if mode == "no":
        return single
    if mode == "auto":
        try:
            info = await single.info("cluster")
        except REDIS_ERRORS as exc:
            log.warning("redis at %s did not say whether it is a cluster (%s): using it as one server (set "
                        "CHAT_REDIS_CLUSTER=yes for a cluster)", _redacted(url), exc)
            return single
        if not int(info.get("cluster_enabled", 0)):
            return single
    await single.aclose(close_connection_pool=True)
    parts = urlsplit(url)
    # A cluster node's pool raises when it runs out instead of waiting, so it gets room for every caller
    # a process has at once (rate-limit checks of its connections, presence scripts of its buckets).
    return aredis.RedisCluster.from_url(urlunsplit(parts._replace(path="")), max_connections=CLUSTER_POOL_SIZE,
                                        **_TIMEOUTS)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The login throttle's layers (runtime/config.py login_*); only failures count."""

    window: float  # seconds: the per-pair and per-address counters are fixed windows this long
    per_pair: int  # failures per (login name, address) per window
    per_address: int  # failures per address per window, whatever the login name
    free_per_account: int  # failures per login name (any address) before its back-off starts
    backoff: float  # seconds: the first back-off wait, doubled by each further failure
    backoff_max: float
    known_address: float = 30 * 86400  # seconds: a login name's successful address skips its back-off this long


@dataclass(frozen=True, slots=True)
class LoginKeys:
    """One password check: which login name (or account) it is for, from which client address."""

    account: str
    address: str
    check: str = field(default_factory=lambda: uuid.uuid4().hex)  # this check's reservation of the account

# How long one check may hold its login name's single in-flight reservation (back-off layer) if its process
# dies before login_end: longer than any check takes (the argon2 queue is bounded), short enough to be harmless.
LOGIN_RESERVATION_MS = 30_000

LoginOutcome = Literal["ok", "fail", "undo"]  # how a password check ended (Cache.login_end)


class Cache(QrLoginCache):
    """Redis, one server or a Redis Cluster (`cluster`): open() asks the server which it is.

    On a cluster every multi-key operation stays in one slot: a user's presence key carries the hash tag
    of its bucket (user id mod PRESENCE_BUCKETS), so a presence script runs once per bucket and the users
    spread over that many slots; the login throttle's keys share the one tag {login}, because one script
    updates an account's and an address's counters together (its rate is bounded by the password hasher's
    queue, far below what one shard serves). Rate limits, slots and QR logins are one key each."""

    def __init__(self, client: aredis.Redis | aredis.RedisCluster, prefix: str = "chat:", url: str = "") -> None:
        self.client: Any = client
        self.prefix = prefix
        self.url = url
        self.cluster = isinstance(client, aredis.RedisCluster)
        self._last_warning = 0.0
        self._scripts = {name: client.register_script(src)
                         for name, src in (("touch", _TOUCH), ("leave", _LEAVE), ("read", _READ),
                                                  ("slot", _SLOT), ("login", _LOGIN), *QR_SCRIPTS.items())}

    @classmethod
    async def open(cls, url: str, prefix: str = "chat:", cluster: Literal["auto", "yes", "no"] = "auto") -> Cache:
        """A client for the Redis at `url` (CHAT_REDIS_CLUSTER): `yes`, a cluster client (any of the cluster's
        nodes will do as `url`); `no`, a pooled client of that one server; `auto`, the one that the server
        says it is, asked now (if it does not answer, it is taken as one server, logged: a deployment on a
        cluster says `yes`)."""
        return cls(await aio(_connect)(url, cluster), prefix, url)

    def node_client(self, host: str, port: int) -> aredis.Redis:
        """A client of one node of the cluster, with the credentials and TLS of `url` (the bus's shard
        subscriptions are read from each master directly). It never retries: a master that fails ends the
        subscription at once, and the bus asks the cluster afresh who serves what."""
        parts = urlsplit(self.url)
        auth = parts.netloc.rpartition("@")[0]
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        netloc = f"{auth}@{address}" if auth else address
        return aredis.Redis.from_url(urlunsplit(parts._replace(netloc=netloc, path="")),
                                     retry=Retry(NoBackoff(), 0), **_TIMEOUTS)

    async def close(self) -> None:
        if self.cluster:
            await aio(self.client.aclose)()
        else:
            await aio(self.client.aclose)(close_connection_pool=True)

    def _degraded(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning("redis unavailable during %s (degrading): %s", what, exc)

    async def ping(self) -> bool:
        try:
            return bool(await aio(self.client.ping)())
        except REDIS_ERRORS as exc:
            self._degraded("ping", exc)
            return False

    async def hit(self, key: str, limit: int, window_seconds: int, cost: int = 1,
                  fail_open: bool = True) -> float | None:
        """Count `cost` hits on a fixed-window limit; None if allowed, else seconds until allowed again.

        When Redis is down: allowed (fail_open), else CacheUnavailable."""
        full = f"{self.prefix}rl:{key}"

        async def count() -> tuple[int, int]:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(full, 0, ex=window_seconds, nx=True)  # the window starts at the first hit
                pipe.incrby(full, cost)
                pipe.ttl(full)
                _, n, ttl = await pipe.execute()
                return int(n), int(ttl)
        try:
            n, ttl = await aio(count)()
        except REDIS_ERRORS as exc:
            self._degraded("rate limit", exc)
            if not fail_open:
                raise CacheUnavailable(str(exc)) from exc
            return None
        return None if n <= limit else float(max(ttl, 1))

    # ------------------------------------------------------------------ login throttle
    #
    # Three layers, one Lua script (atomic): per (account, address) and per address, fixed windows of
    # `window`; per account (any address), `free_per_account` failures and then a back-off that doubles
    # with each further failure up to `backoff_max`. An attempt is counted on the pair and address windows
    # when it starts (so parallel attempts cannot all pass one check), and that count is given back when it
    # turns out not to be a failure: a correct password costs nothing, and also clears its (account,
    # address) window. Once the account's free failures are used up, one check at a time may run for it
    # (a reservation taken at begin, released at end), so parallel guesses from many addresses cannot all
    # slip through when a wait ends. The account's failures are all forgotten a window after the last wait
    # ends; waiting one out forgives nothing. An address where the
    # account logged in successfully (marked `known_address` seconds) skips the account layer (the owner is
    # not kept out by strangers' failures), still subject to the other two.
    #   {prefix}login:pair:{account}:{address}  counter     {prefix}login:addr:{address}  counter
    #   {prefix}login:acct:{account}            hash n (failures), last, until (ms, Redis time)
    #   {prefix}login:known:{account}:{address} flag        {prefix}login:busy:{account}  the reserving check

    async def login_begin(self, keys: LoginKeys, limits: LoginLimits) -> float | None:
        """Start a password check: None if it may go on (it is counted until `login_end`), else seconds to
        wait. Raises CacheUnavailable when Redis does not answer: the caller must refuse (fail closed)."""
        wait_ms = await self._login("begin", keys, limits)
        return None if wait_ms <= 0 else wait_ms / 1000

    async def login_end(self, keys: LoginKeys, limits: LoginLimits, outcome: LoginOutcome) -> None:
        """Finish a check begun with login_begin: outcome "fail" (a wrong password or an unknown name: it
        stays counted, and the account's back-off grows), "ok" (given back, the pair's window cleared) or
        "undo" (given back: the check did not happen). Never raises (begin already failed closed)."""
        try:
            await self._login(outcome, keys, limits)
        except CacheUnavailable:
            pass

    async def _login(self, op: LoginOutcome | Literal["begin"], keys: LoginKeys, limits: LoginLimits) -> int:
        p = f"{self.prefix}login:{{login}}:"  # one slot on a cluster: the script updates them together
        redis_keys = [f"{p}pair:{keys.account}:{keys.address}", f"{p}addr:{keys.address}", f"{p}acct:{keys.account}",
                      f"{p}known:{keys.account}:{keys.address}", f"{p}busy:{keys.account}"]
        args = [op, int(limits.window * 1000), limits.per_pair, limits.per_address, limits.free_per_account,
                int(limits.backoff * 1000), int(limits.backoff_max * 1000), int(limits.known_address * 1000),
                keys.check, LOGIN_RESERVATION_MS]
        try:
            return int(await aio(self._scripts["login"])(keys=redis_keys, args=args))
        except REDIS_ERRORS as exc:
            self._degraded("login throttle", exc)
            raise CacheUnavailable(str(exc)) from exc

    # ------------------------------------------------------------------ slots
    #
    # A bounded set of holders per key (e.g. one user's uploads in progress on any process), a sorted set
    # {prefix}slots:{key}: member = holder, score = the Redis time (ms) until which it holds a slot. A
    # holder renews before that; one whose process died stops counting when its time runs out.

    async def take_slot(self, key: str, holder: str, limit: int, ttl: float) -> bool:
        """Take (or renew) a slot for `holder` if fewer than `limit` are held; True when Redis is down."""
        script = self._scripts["slot"]
        try:
            taken = await aio(script)(keys=[f"{self.prefix}slots:{key}"], args=[holder, limit, int(ttl * 1000)])
            return bool(int(taken))
        except REDIS_ERRORS as exc:
            self._degraded("slot", exc)
            return True

    async def drop_slot(self, key: str, holder: str) -> None:
        try:
            await aio(self.client.zrem)(f"{self.prefix}slots:{key}", holder)
        except REDIS_ERRORS as exc:
            self._degraded("slot", exc)

    # ------------------------------------------------------------------ presence
    #
    # One sorted set per user, {prefix}online:{user}: member = a node the user has a device on, score = the
    # Redis time (ms) until which that node vouches for them. Each node re-vouches for its users every third
    # of the TTL, so a user is online iff some score is in the future, and a node that dies without
    # cleaning up stops counting one TTL later. Its expired entry stays (the key lives RETAIN_MS) as a hint
    # of when such a user was last seen. Scripts read the clock of Redis, so nodes' clocks do not matter.

    async def presence_touch(self, users: list[int], node: str, ttl: float) -> dict[int, bool] | None:
        """`node` vouches for `users` for `ttl` seconds; per user True if no node did just before."""
        return await self._presence_script("touch", users, [node, int(ttl * 1000), RETAIN_MS])

    async def presence_leave(self, users: list[int], node: str) -> dict[int, bool] | None:
        """`node` no longer vouches for `users`; per user True if no node does any more (they went offline)."""
        return await self._presence_script("leave", users, [node])

    async def presence(self, users: list[int], ttl: float) -> dict[int, Seen] | None:
        """Every user's presence; None when Redis is unavailable (presence is unknown then)."""
        results = await self._per_group("read", users, [])
        if results is None:
            return None
        ttl_ms = int(ttl * 1000)
        out: dict[int, Seen] = {}
        for group, (now, *scores) in results:  # each group's script read the Redis time of its own node
            out.update((u, Seen(True, None) if s > now else Seen(False, s - ttl_ms if s > 0 else None))
                       for u, s in zip(group, scores, strict=True))
        return out

    def _online_key(self, user: int) -> str:
        return f"{self.prefix}online:{{{user % PRESENCE_BUCKETS}}}:{user}"

    async def _presence_script(self, name: str, users: list[int], args: list[str | int]) -> dict[int, bool] | None:
        results = await self._per_group(name, users, args)
        if results is None:
            return None
        return {u: bool(f) for group, flags in results for u, f in zip(group, flags, strict=True)}

    async def _per_group(self, name: str, users: list[int],
                         args: list[str | int]) -> list[tuple[list[int], list[int]]] | None:
        """Run a presence script over `users`' keys in groups it may take at once: one group on one server,
        one per bucket on a cluster (one slot), each at most SCRIPT_KEYS long (bounded work per script:
        Redis does nothing else meanwhile); the groups run concurrently. None when Redis is unavailable."""
        script = self._scripts[name]
        buckets: dict[int, list[int]] = {}
        for user in users:
            buckets.setdefault(user % PRESENCE_BUCKETS if self.cluster else 0, []).append(user)
        groups = [b[i:i + SCRIPT_KEYS] for b in buckets.values() for i in range(0, len(b), SCRIPT_KEYS)]

        async def one(group: list[int]) -> list[int]:
            return [int(v) for v in await script(keys=[self._online_key(u) for u in group], args=args)]

        async def run() -> list[list[int]]:
            return await concurrently(one(g) for g in groups)
        if not groups:
            return []
        try:
            return list(zip(groups, await aio(run)(), strict=True))
        except REDIS_ERRORS as exc:
            self._degraded("presence", exc)
            return None


RETAIN_MS = 7 * 24 * 3600 * 1000  # how long a user's presence key outlives its last refresh (last-seen hint)
SCRIPT_KEYS = 500

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# ARGV: node, ttl ms, retain ms. Returns per key 1 if no node vouched for the user (they come online).
_TOUCH = _NOW + """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = (redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0) and 1 or 0
  redis.call('ZADD', key, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[3])
end
return out
"""

# ARGV: node. Returns per key 1 if no node vouches for the user any more (they went offline). Expired
# entries go too: the clean disconnect that calls this stores a newer last_seen in Postgres.
_LEAVE = _NOW + """
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  out[i] = (redis.call('ZCARD', key) == 0) and 1 or 0
  if out[i] == 1 then redis.call('DEL', key) end
end
return out
"""

# ARGV: holder, limit, ttl ms. Returns 1 if the holder has a slot now (it had one, or one was free).
_SLOT = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

# KEYS: pair, address, account, known (account, address), busy (account). ARGV: op (begin, fail, ok, undo),
# window ms, pair limit, address limit, free account failures, back-off ms, back-off cap ms, known-address ms,
# check id, reservation ms. `begin` returns the ms to wait (0: go on, and counted until fail/ok/undo).
_LOGIN = _NOW + """
local op, window = ARGV[1], tonumber(ARGV[2])
local pair, addr, acct, known, busy = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local free, backoff, check = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[9]
local function give_back(key)
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
local h = redis.call('HMGET', acct, 'n', 'last', 'until')
local last, untl = tonumber(h[2] or '0'), tonumber(h[3] or '0')
-- waiting a back-off out forgives nothing (or guessing as each wait ends would pay less); the whole count
-- is forgotten a window after the last wait ends (the key's expiry, set at each failure)
local n = tonumber(h[1] or '0')
if redis.call('GET', busy) == check then redis.call('DEL', busy) end  -- every end releases its reservation
if op == 'begin' then
  local wait = 0
  for i, limit in ipairs({tonumber(ARGV[3]), tonumber(ARGV[4])}) do
    if tonumber(redis.call('GET', KEYS[i]) or '0') >= limit then
      wait = math.max(wait, redis.call('PTTL', KEYS[i]), 1)
    end
  end
  local reserve = n >= free and redis.call('EXISTS', known) == 0
  if reserve then
    if untl > now then wait = math.max(wait, untl - now) end
    if redis.call('EXISTS', busy) == 1 then wait = math.max(wait, untl - now, backoff) end
  end
  if wait > 0 then return wait end
  for i = 1, 2 do
    redis.call('SET', KEYS[i], 0, 'PX', window, 'NX')
    redis.call('INCR', KEYS[i])
  end
  if reserve then redis.call('SET', busy, check, 'PX', tonumber(ARGV[10])) end
  return 0
elseif op == 'fail' then
  n = n + 1
  local over, delay = n - free, 0
  if over > 0 then
    delay = math.min(tonumber(ARGV[7]), backoff * 2 ^ math.min(over - 1, 40))
  end
  redis.call('HSET', acct, 'n', n, 'last', now, 'until', now + delay)
  redis.call('PEXPIRE', acct, math.floor(delay + window))  -- all forgotten a window after the wait ends
elseif op == 'ok' then
  redis.call('DEL', pair)
  give_back(addr)
  if tonumber(ARGV[8]) > 0 then redis.call('SET', known, 1, 'PX', tonumber(ARGV[8])) end
else
  give_back(pair)
  give_back(addr)
end
return 0
"""

# Returns the Redis time (ms), then per key the highest score (-1: no entry).
_READ = _NOW + """
local out = {now}
for i, key in ipairs(KEYS) do
  local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  out[i + 1] = top[2] and tonumber(top[2]) or -1
end
return out
"""


@dataclass(frozen=True, slots=True)
class Seen:
    """A user's presence in Redis: online, or offline with the last refresh of a node that died (if any)."""

    online: bool
    last_seen: int | None = None  # ms since the epoch; only from a dead node's entry (Postgres has the rest)
