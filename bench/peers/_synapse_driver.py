"""Load driver for Synapse through the Matrix client-server API (runs in the peers' venv, pinned by the caller).

`python -m bench.peers._synapse_driver ARGS_JSON`; see bench/peers/_driverlib.py for the output protocol.
Users come from the shared-secret admin registration API (cached with their tokens in the state file), rooms
are created once per size and reused, messages go out with PUT .../send/m.room.message/{txnId} and come in
through /sync long-polls with `since` tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from bench.peers import _driverlib as lib

API = "/_matrix/client/v3"
PASSWORD = "bench-password-1"
SETUP_CONCURRENCY = 8
SYNC_TIMEOUT_MS = 5000
TIMELINE_LIMIT = 1000
REQUEST_TRIES = 20


class HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Matrix:
    def __init__(self, http: aiohttp.ClientSession, base: str, user_id: str = "", token: str = "") -> None:
        self.http = http
        self.base = base
        self.user_id = user_id
        self.token = token

    async def req(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                  timeout_s: float = 60.0) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for _ in range(REQUEST_TRIES):
            async with self.http.request(method, self.base + path, json=body, params=params, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                data: dict[str, Any] = await r.json(content_type=None)
                if r.status == 429:  # rate limits are configured off; obey anyway, bounded
                    await asyncio.sleep(min(5.0, data.get("retry_after_ms", 200) / 1000))
                    continue
                if r.status >= 400:
                    raise HttpError(r.status, data)
                return data
        raise HttpError(429, "still rate limited")


async def register(http: aiohttp.ClientSession, base: str, secret: str, username: str) -> tuple[str, str]:
    anon = Matrix(http, base)
    nonce = (await anon.req("GET", "/_synapse/admin/v1/register"))["nonce"]
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), username.encode(), PASSWORD.encode(), b"notadmin"]))
    try:
        r = await anon.req("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": username, "password": PASSWORD, "admin": False, "mac": mac.hexdigest()})
    except HttpError as e:
        if not (isinstance(e.body, dict) and e.body.get("errcode") == "M_USER_IN_USE"):
            raise
        r = await anon.req("POST", API + "/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": username}, "password": PASSWORD})
    return str(r["user_id"]), str(r["access_token"])


async def gather_bounded(coros: list[Any], limit: int = SETUP_CONCURRENCY) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c
    return list(await asyncio.gather(*(one(c) for c in coros)))


def sync_filter(room_id: str, limit: int) -> str:
    return json.dumps({
        "room": {"rooms": [room_id], "timeline": {"limit": limit, "types": ["m.room.message"]},
                 "state": {"types": [], "lazy_load_members": True}, "ephemeral": {"types": []},
                 "account_data": {"types": []}},
        "presence": {"types": []}, "account_data": {"types": []}}, separators=(",", ":"))


class Driver:
    def __init__(self, args: dict[str, Any], http: aiohttp.ClientSession) -> None:
        self.args = args
        self.http = http
        self.base: str = args["base_url"]
        self.state = lib.read_state(args["state_path"])
        self.state.setdefault("users", {})
        self.state.setdefault("rooms", {})
        self.run_id = uuid.uuid4().hex[:12]
        self.tracker = lib.Tracker()
        self.window = lib.Window()
        self.limited = 0
        self.send_errors = 0
        self.sync_errors = 0
        self.syncs = 0

    async def users(self, names: list[str]) -> list[Matrix]:
        missing = [n for n in names if n not in self.state["users"]]
        if missing:
            lib.log(f"registering {len(missing)} users")
            regs = await gather_bounded([register(self.http, self.base, self.args["shared_secret"], n)
                                         for n in missing])
            for n, (uid, tok) in zip(missing, regs, strict=True):
                self.state["users"][n] = [uid, tok]
            lib.write_state(self.args["state_path"], self.state)
        return [Matrix(self.http, self.base, *self.state["users"][n]) for n in names]

    async def room(self, key: str, members: list[Matrix]) -> str:
        """A public room with exactly these members joined, created once and reused across runs."""
        room_id: str | None = self.state["rooms"].get(key)
        if room_id is None:
            created = await members[0].req("POST", API + "/createRoom", {"preset": "public_chat", "name": key})
            room_id = str(created["room_id"])
            if len(members) > 1:
                lib.log(f"{key}: joining {len(members) - 1} members")
            path = f"{API}/rooms/{quote(room_id)}/join"
            await gather_bounded([m.req("POST", path, {}) for m in members[1:]])
            self.state["rooms"][key] = room_id
            lib.write_state(self.args["state_path"], self.state)
        return room_id

    async def filter_id(self, m: Matrix, room_id: str, limit: int) -> str:
        """Upload the sync filter once per user and room, as clients do (an inline filter is re-validated on
        every /sync)."""
        filters: dict[str, str] = self.state.setdefault("filters", {})
        key = f"{m.user_id} {room_id} {limit}"
        if key not in filters:
            r = await m.req("POST", f"{API}/user/{quote(m.user_id)}/filter", json.loads(sync_filter(room_id, limit)))
            filters[key] = str(r["filter_id"])
        return filters[key]

    async def since(self, m: Matrix, room_id: str) -> tuple[str, str]:
        """The `since` token to start from (an initial sync with a 1-event timeline) and the filter id to use."""
        first = await self.filter_id(m, room_id, 1)
        r = await m.req("GET", API + "/sync", params={"timeout": "0", "filter": first})
        return str(r["next_batch"]), await self.filter_id(m, room_id, TIMELINE_LIMIT)

    async def sync_loop(self, m: Matrix, room_id: str, start: tuple[str, str],
                        on_event: Callable[[dict[str, Any]], None]) -> None:
        """Long-poll /sync until cancelled (the scenarios bound their own time)."""
        since, flt = start
        while True:
            try:
                r = await m.req("GET", API + "/sync", params={"since": since, "timeout": str(SYNC_TIMEOUT_MS),
                                                              "filter": flt})
            except (TimeoutError, HttpError, aiohttp.ClientError) as e:
                self.sync_errors += 1
                lib.log(f"sync error: {e!r}")
                await asyncio.sleep(0.2)
                continue
            self.syncs += 1
            since = r["next_batch"]
            room = r.get("rooms", {}).get("join", {}).get(room_id)
            if not room:
                continue
            timeline = room.get("timeline", {})
            if timeline.get("limited"):
                self.limited += 1
            for ev in timeline.get("events", []):
                on_event(ev)

    async def send(self, m: Matrix, room_id: str, content: dict[str, Any], txn: str) -> bool:
        path = f"{API}/rooms/{quote(room_id)}/send/m.room.message/{txn}"
        for _ in range(3):  # same txnId: idempotent
            try:
                await m.req("PUT", path, content)
                return True
            except (TimeoutError, HttpError, aiohttp.ClientError) as e:
                lib.log(f"send error: {e!r}")
                await asyncio.sleep(0.1)
        self.send_errors += 1
        return False

    def bench_fields(self, ev: dict[str, Any]) -> list[Any] | None:
        b = ev.get("content", {}).get("bench")  # [run_id, sender, seq, monotonic_ns] (Matrix JSON has no floats)
        if isinstance(b, list) and len(b) == 4 and b[0] == self.run_id:
            return b
        return None

    async def wait_drained(self, expected: Callable[[], int], deadline: float) -> None:
        # deliveries are counted in parser callbacks: a 20 ms poll is simpler than an Event per count
        while self.tracker.delivered < expected() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    # -- scenarios ----------------------------------------------------------------------------------------

    async def fanout(self, p: dict[str, Any]) -> dict[str, Any]:
        members, n_senders = int(p["members"]), int(p["senders"])
        rate, duration = float(p["rate"]), float(p["duration"])
        n_senders = max(1, min(n_senders, members))
        n_pollers = min(members, int(self.args["max_pollers"]))
        ms = await self.users([f"f{i}" for i in range(members)])
        room_id = await self.room(f"fanout-{members}", ms)
        pollers = ms[:n_pollers]
        sinces = await gather_bounded([self.since(m, room_id) for m in pollers])
        lib.write_state(self.args["state_path"], self.state)
        sent = [0] * n_senders

        def on_event_for(receiver: int) -> Callable[[dict[str, Any]], None]:
            def on_event(ev: dict[str, Any]) -> None:
                b = self.bench_fields(ev)
                if b is not None and b[1] != receiver:
                    self.tracker.record(receiver, b[1], b[2], b[3] / 1e9, time.monotonic())
            return on_event

        async def sender(i: int) -> None:
            interval = n_senders / rate
            t_next = t0 + i * interval / n_senders
            seq = 0
            while True:
                now = time.monotonic()
                if t_next >= t_end or now >= t_end:
                    return
                if t_next > now:
                    await asyncio.sleep(t_next - now)
                content = {"msgtype": "m.text", "body": f"fanout {i} {seq}",
                           "bench": [self.run_id, i, seq, time.monotonic_ns()]}
                if await self.send(ms[i], room_id, content, f"{self.run_id}-{i}-{seq}"):
                    sent[i] += 1
                seq += 1
                t_next += interval

        def expected() -> int:
            return sum(s * (n_pollers - (1 if i < n_pollers else 0)) for i, s in enumerate(sent))

        drain_s = float(self.args["drain_s"])
        self.window.start()
        t0 = time.monotonic()
        t_end = t0 + duration
        loops = [asyncio.create_task(self.sync_loop(m, room_id, s, on_event_for(i)))
                 for i, (m, s) in enumerate(zip(pollers, sinces, strict=True))]
        await asyncio.gather(*(sender(i) for i in range(n_senders)))
        send_phase = time.monotonic() - t0
        await self.wait_drained(expected, time.monotonic() + drain_s)
        self.window.stop()
        for t in loops:
            t.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        notes = []
        if n_pollers < members:
            notes.append(f"scaled down: all {members} members joined the room (so Synapse does its per-member work "
                         f"for each event) but only the first {n_pollers} long-poll /sync and count as recipients "
                         f"({members} concurrent /sync long-polls on one core are beyond this setup)")
        achieved = sum(sent) / send_phase if send_phase > 0 else 0.0
        notes.append(f"offered {rate:g} msg/s as {n_senders} senders with one PUT in flight each (Matrix clients send "
                     f"in order), achieved {achieved:.1f} msg/s")
        return self.result(sum(sent), expected(), notes)

    async def dm(self, p: dict[str, Any]) -> dict[str, Any]:
        pairs, duration = int(p["pairs"]), float(p["duration"])
        ms = await self.users([f"d{i}" for i in range(2 * pairs)])
        room_ids = await gather_bounded([self.room(f"dm-{k}", [ms[2 * k], ms[2 * k + 1]]) for k in range(pairs)])
        sinces = await gather_bounded([self.since(m, room_ids[i // 2]) for i, m in enumerate(ms)])
        lib.write_state(self.args["state_path"], self.state)
        sent = [0]
        pong_waiters: dict[int, asyncio.Future[None]] = {}
        pong_queues: list[asyncio.Queue[list[Any]]] = [asyncio.Queue() for _ in range(pairs)]
        rtt_timeout = float(self.args["rtt_timeout_s"])
        lost = [0]

        def on_event_for(user: int) -> Callable[[dict[str, Any]], None]:
            k, is_b = divmod(user, 2)

            def on_event(ev: dict[str, Any]) -> None:
                b = self.bench_fields(ev)
                if b is None or b[1] == user:
                    return
                now = time.monotonic()
                if is_b:  # a ping from A: count it, queue the pong
                    if self.tracker.record(user, b[1], b[2], None, now):
                        pong_queues[k].put_nowait(b)
                elif self.tracker.record(user, b[1], b[2], b[3] / 1e9, now):  # a pong: latency = round trip
                    fut = pong_waiters.pop(k, None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
            return on_event

        async def pinger(k: int) -> None:
            a = ms[2 * k]
            seq = 0
            while time.monotonic() < t_end:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                pong_waiters[k] = fut
                content = {"msgtype": "m.text", "body": f"ping {seq}", "bench": [self.run_id, 2 * k, seq,
                                                                                   time.monotonic_ns()]}
                if await self.send(a, room_ids[k], content, f"{self.run_id}-{2 * k}-{seq}"):
                    sent[0] += 1
                    try:
                        await asyncio.wait_for(fut, rtt_timeout)
                    except TimeoutError:
                        lost[0] += 1
                seq += 1

        async def ponger(k: int) -> None:
            b_user = ms[2 * k + 1]
            while True:
                b = await pong_queues[k].get()
                content = {"msgtype": "m.text", "body": f"pong {b[2]}", "bench": [self.run_id, 2 * k + 1, b[2], b[3]]}
                if await self.send(b_user, room_ids[k], content, f"{self.run_id}-{2 * k + 1}-{b[2]}"):
                    sent[0] += 1

        self.window.start()
        t_end = time.monotonic() + duration
        loops = [asyncio.create_task(self.sync_loop(m, room_ids[i // 2], s, on_event_for(i)))
                 for i, (m, s) in enumerate(zip(ms, sinces, strict=True))]
        pongers = [asyncio.create_task(ponger(k)) for k in range(pairs)]
        await asyncio.gather(*(pinger(k) for k in range(pairs)))
        await self.wait_drained(lambda: sent[0], time.monotonic() + float(self.args["drain_s"]))
        self.window.stop()
        for t in loops + pongers:
            t.cancel()
        await asyncio.gather(*loops, *pongers, return_exceptions=True)
        notes = [f"{pairs} pairs, each in its own room, ping-pong one message at a time; each side long-polls /sync"]
        if lost[0]:
            notes.append(f"{lost[0]} pings got no pong within {rtt_timeout:g} s")
        return self.result(sent[0], sent[0], notes)

    def result(self, sent: int, expected: int, notes: list[str]) -> dict[str, Any]:
        if self.limited:
            notes.append(f"{self.limited} /sync responses were 'limited' (more than {TIMELINE_LIMIT} new events): "
                         "events in those gaps count as not delivered")
        if self.send_errors or self.sync_errors:
            notes.append(f"{self.send_errors} sends failed after 3 tries, {self.sync_errors} /sync errors")
        notes.append(f"{self.syncs} /sync responses in the window")
        if self.tracker.delivered < expected:
            notes.append(f"the window closed {self.args['drain_s']:g} s after the send phase with "
                         f"{expected - self.tracker.delivered} deliveries still outstanding (server behind): "
                         "they count as not delivered")
        share = self.window.client_cpu_share
        notes.append(f"load generator used {share:.0%} of its core")
        if share > 0.9:
            notes.append("the load generator was saturated: latencies include client-side queueing")
        return {"sent": sent, "expected": expected, "delivered": self.tracker.delivered,
                "duplicates": self.tracker.duplicates, "out_of_order": self.tracker.out_of_order,
                "duration_s": self.window.duration_s, "notes": notes}


async def main() -> None:
    args = lib.load_args()
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        d = Driver(args, http)
        scenario = args["scenario"]
        res = await (d.fanout(args["params"]) if scenario == "fanout" else d.dm(args["params"]))
        lib.emit_result(res, d.tracker.latencies, args["latency_path"])


if __name__ == "__main__":
    lib.run(main())
