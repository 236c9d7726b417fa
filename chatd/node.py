"""One chatd node: the supervision tree of docs/architecture.md section 1.

    root (one_for_one, 5 restarts in 10 s, then the node exits non-zero; stops bottom-up, section 1)
    ├── commits  CommitWriter: what every room has ready, stored in one transaction per round trip
    ├── rooms    dynamic supervisor of RoomActors (transient)
    ├── cursors  CursorWriter: every user's delivered/read cursors, one UPDATE per round trip
    ├── users    dynamic supervisor of UserActors (temporary)
    ├── bus      Bus (actors/bus.py): news to and from the other chatd processes, over Redis pub/sub
    ├── gaps     GapWatch (actors/gaps.py): what the bus dropped, found in Postgres every 2 s
    ├── presence PresenceTracker: who is online here (Redis, TTL + heartbeat), presence_changed pushes
    ├── gateway  websocket listener, one task pair per connection
    ├── http     hypercorn (trio worker) serving httpapi/: JSON auth, /healthz, /metrics
    ├── push     PushService (push/worker.py): the Web Push scan and sender, under a supervisor of their own
    └── media-gc MediaCollector (media/collector.py): unreferenced uploads and unused blobs, deleted

The asyncpg pool and the Redis client are the node's resources, opened before the tree and closed
after it; every actor reaches them only through persistence/.
"""

from __future__ import annotations

import logging
import secrets

import trio

from chatd.actors.bus import Bus, BusSink, NullBus
from chatd.actors.commits import CommitWriter
from chatd.actors.cursors import CursorWriter
from chatd.actors.directory import RoomDirectory, UserDirectory
from chatd.actors.gaps import GapWatch
from chatd.actors.items import CursorMoved
from chatd.actors.presence import PresenceSettings, PresenceTracker
from chatd.actors.room import RoomSettings
from chatd.actors.user import UserSettings
from chatd.admin.context import AdminContext
from chatd.auth import PasswordHasher, TokenIssuer
from chatd.gateway.server import Gateway
from chatd.gateway.services import Services
from chatd.httpapi.admin import mount_admin
from chatd.httpapi.app import make_app
from chatd.httpapi.server import HttpServer
from chatd.media.collector import MediaCollector
from chatd.media.storage import DiskStorage
from chatd.persistence import Cache, Store
from chatd.persistence.pubsub import PubSub
from chatd.push.sender import WebPushSender
from chatd.push.vapid import VapidKey
from chatd.push.worker import PushService, PushSettings
from chatd.runtime.config import Config
from chatd.runtime.metrics import Metrics
from chatd.runtime.secretfile import redacted
from chatd.supervisor import ChildSpec, Supervisor

log = logging.getLogger("chatd")

DIRECTORY_SHUTDOWN = 10.0  # seconds for the rooms or users supervisor to stop all its actors (5 s each, at once)


class Node:
    def __init__(self, config: Config) -> None:
        if not config.database_url or not config.redis_url:
            raise ValueError("Node needs database_url and redis_url (chatd.embedded provides them)")
        self.config = config.with_secret()
        self.root = Supervisor("root", intensity=5, period=10.0)
        self.services: Services | None = None
        self.gateway: Gateway | None = None
        self.http: HttpServer | None = None
        self.bus: Bus | None = None
        self.commits: CommitWriter | None = None
        self.admin: AdminContext | None = None  # the admin console's view (admin/, httpapi/admin.py)
        self.media_collector: MediaCollector | None = None

    @property
    def url(self) -> str:
        assert self.gateway is not None and self.gateway.port is not None
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        return f"ws://{host}:{self.gateway.port}/"

    @property
    def http_url(self) -> str:
        assert self.http is not None and self.http.url is not None
        return self.http.url

    async def run(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        assert cfg.database_url and cfg.redis_url and cfg.jwt_secret and cfg.push_vapid_key
        store = await Store.open(cfg.database_url, max_size=cfg.db_pool_size, replica_dsn=cfg.database_replica_url,
                                 partitions=cfg.db_partitions)
        cache = await Cache.open(cfg.redis_url, cfg.redis_prefix, cfg.redis_cluster)
        try:
            commits = self.commits = CommitWriter(store)
            rooms = RoomDirectory(store, commits, RoomSettings(idle_seconds=cfg.room_idle_seconds,
                                                      status_max_members=cfg.receipts_per_recipient_max,
                                                      typing_seconds=cfg.typing_seconds))

            def tell_room(room: int, moved: CursorMoved, here: bool) -> bool:  # stored cursors, for receipts
                rooms.bus.to_room(room, moved)  # the room's actors on other processes
                return rooms.tell(room, moved) if here else True

            cursors = CursorWriter(store, tell_room)
            users = UserDirectory(store, rooms, cursors, UserSettings(flush_seconds=cfg.cursor_flush_seconds,
                                                             linger_seconds=cfg.user_linger_seconds))
            bus: BusSink = NullBus()
            cluster: list[ChildSpec] = []
            if cfg.cluster:
                bus_id = f"{cfg.node_name}/{secrets.token_hex(4)}"  # unique even if two processes share a name
                bus = self.bus = Bus(PubSub(cache, "bus"), bus_id, rooms, users)
                gaps = GapWatch(store, users.keys, users, cfg.gap_check_seconds)
                cluster = [ChildSpec("bus", bus.run), ChildSpec("gaps", gaps.run)]
            rooms.wire(users, bus)  # the one late wiring: rooms, users and the bus need each other
            presence = PresenceTracker(store, cache, users, PresenceSettings(cfg.node_name, cfg.presence_ttl), bus)
            metrics = Metrics()
            self.services = Services(cfg, store, cache, rooms, users, TokenIssuer(cfg.jwt_secret, cfg.access_ttl),
                                     PasswordHasher(cfg.argon2_time_cost, cfg.argon2_memory_kib,
                                                    queue=cfg.password_queue), presence, metrics, bus)

            def http_port() -> int | None:  # the HTTP side's, once it listens: its pages may open websockets
                return self.http.port if self.http is not None and self.http.url is not None else None

            self.gateway = Gateway(self.services, http_port)
            gateway = self.gateway
            metrics.watch(lambda: gateway.connections, {"room": rooms.count, "user": users.count},
                          store.replica_counts.served if cfg.database_replica_url else None)
            if self.bus is not None:
                metrics.watch_bus(self.bus.counts)
            self.http = HttpServer(make_app(self.services, metrics, lambda: gateway.port), cfg.host, cfg.http_port,
                                   cfg.reuse_port)
            self.admin = AdminContext(cfg.node_name, self.root, rooms, users, gateway, store, cache)
            mount_admin(self.http.app, self.admin, self.services)
            vapid = VapidKey(cfg.push_vapid_key)
            push = PushService(store, WebPushSender(vapid, cfg.push_vapid_subject), vapid, PushSettings.of(cfg))
            collector = self.media_collector = MediaCollector(
                store, DiskStorage(cfg.media_root), cfg.media_grace_seconds,
                cfg.media_gc_seconds)
            async with trio.open_nursery() as nursery:
                self.admin.attach(nursery)  # a drain ends the node by cancelling this nursery
                # Started in this order, stopped in the reverse one: the gateway closes the connections before
                # the user actors stop, they hand their cursors to the cursor writer, which stores them before
                # the rooms and their commit writer stop. The directories' deadlines cover their actors' own.
                await nursery.start(self.root.run, [
                    ChildSpec("commits", commits.run), ChildSpec("rooms", rooms.run, shutdown=DIRECTORY_SHUTDOWN),
                    ChildSpec("cursors", cursors.run), ChildSpec("users", users.run, shutdown=DIRECTORY_SHUTDOWN),
                    *cluster, ChildSpec("presence", presence.run), ChildSpec("gateway", self.gateway.serve),
                    ChildSpec("http", self.http.run),
                    ChildSpec("push", push.run), ChildSpec("media-gc", collector.run)])
                if not await cache.ping():
                    log.warning("Redis at %s does not answer; presence, rate limits and the bus are degraded",
                                redacted(cfg.redis_url))
                elif self.bus is not None:
                    with trio.move_on_after(5):  # news published before we listen would wait for the gap check
                        await self.bus.subscribed.wait()
                log.info("chatd node %s listening on %s", cfg.node_name, self.url)
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await cache.close()
                await store.close()


