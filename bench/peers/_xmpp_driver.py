"""Load driver for ejabberd: a minimal asyncio XMPP client (runs in the peers' venv, pinned by the caller).

`python -m bench.peers._xmpp_driver ARGS_JSON`; see bench/peers/_driverlib.py for the output protocol.
Plain TCP stream (starttls off in the server config), SASL PLAIN, resource bind, then MUC (XEP-0045) for
"fanout" and one-to-one `chat` messages between full JIDs for "dm". Parsing is expat (C) with a tiny element
tree per stanza: slixmpp works but costs several times more client CPU per stanza, and the client shares one core.
Users are registered through mod_http_api's `register` command (the same command as `ejabberdctl register`).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
import xml.parsers.expat
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.peers import _driverlib as lib

PASSWORD = "bench-password-1"
RESOURCE = "bench"
SETUP_CONCURRENCY = 32
SETUP_TIMEOUT_S = 30.0
MUC_NS = "http://jabber.org/protocol/muc"


class Elem:
    __slots__ = ("attrs", "children", "name", "text")

    def __init__(self, name: str, attrs: dict[str, str]) -> None:
        self.name = name
        self.attrs = attrs
        self.children: list[Elem] = []
        self.text = ""

    def child(self, name: str) -> Elem | None:
        for c in self.children:
            if c.name == name:
                return c
        return None


class Xmpp:
    def __init__(self, port: int, domain: str, user: str) -> None:
        self.port = port
        self.domain = domain
        self.user = user
        self.jid = f"{user}@{domain}/{RESOURCE}"
        self.queue: asyncio.Queue[Elem] = asyncio.Queue()
        self.handler: Callable[[Elem], None] | None = None
        self._restart = False
        self._stack: list[Elem] = []
        self._depth = 0
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = False

    def _new_parser(self) -> None:
        p = xml.parsers.expat.ParserCreate()
        p.buffer_text = True
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._chars
        self._parser = p
        self._stack = []
        self._depth = 0

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1:
            return
        e = Elem(name, attrs)
        if self._stack:
            self._stack[-1].children.append(e)
        self._stack.append(e)

    def _end(self, name: str) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.closed = True
            return
        e = self._stack.pop()
        if not self._stack:
            if e.name == "success":
                self._restart = True
            if self.handler is not None:
                self.handler(e)
            else:
                self.queue.put_nowait(e)

    def _chars(self, data: str) -> None:
        if self._stack:
            self._stack[-1].text += data

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(262144)
                if not data:
                    self.closed = True
                    return
                self._parser.Parse(data, False)
                if self._restart:
                    self._restart = False
                    self._new_parser()
        except (ConnectionError, xml.parsers.expat.ExpatError) as e:
            lib.log(f"{self.user}: {e!r}")
            self.closed = True

    def write(self, data: str) -> None:
        self.writer.write(data.encode())

    def _open_stream(self) -> None:
        self.write(f"<?xml version='1.0'?><stream:stream to='{self.domain}' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")

    async def expect(self, pred: Callable[[Elem], bool], timeout_s: float = SETUP_TIMEOUT_S) -> Elem:
        """Next queued stanza matching pred (others are dropped); only before a handler is set."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.user}: no matching stanza in {timeout_s:g} s")
            e = await asyncio.wait_for(self.queue.get(), left)
            if pred(e):
                return e

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._new_parser()
        self._reader_task = asyncio.create_task(self._read())
        self._open_stream()
        await self.expect(lambda e: e.name == "stream:features")
        token = base64.b64encode(f"\0{self.user}\0{PASSWORD}".encode()).decode()
        self.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        r = await self.expect(lambda e: e.name in ("success", "failure"))
        if r.name != "success":
            raise RuntimeError(f"{self.user}: SASL PLAIN failed")
        self._open_stream()
        await self.expect(lambda e: e.name == "stream:features")
        self.write("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   f"<resource>{RESOURCE}</resource></bind></iq>")
        r = await self.expect(lambda e: e.name == "iq" and e.attrs.get("id") == "bind")
        if r.attrs.get("type") != "result":
            raise RuntimeError(f"{self.user}: bind failed")
        self.write("<presence/>")

    async def close(self) -> None:
        if not hasattr(self, "writer"):
            return
        if not self.closed:
            try:
                self.write("</stream:stream>")
                await asyncio.wait_for(self.writer.drain(), 2)
            except (TimeoutError, ConnectionError):
                pass
        self.writer.close()
        if self._reader_task:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)


async def gather_bounded(coros: list[Any], limit: int = SETUP_CONCURRENCY) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c
    return list(await asyncio.gather(*(one(c) for c in coros)))


class Driver:
    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.domain: str = args["domain"]
        self.muc: str = args["muc_host"]
        self.state = lib.read_state(args["state_path"])
        self.state.setdefault("users", [])
        self.run_id = uuid.uuid4().hex[:12]
        self.tracker = lib.Tracker()
        self.window = lib.Window()
        self.conns: list[Xmpp] = []
        self.dropped = 0

    async def register(self, names: list[str]) -> None:
        known = set(self.state["users"])
        missing = [n for n in names if n not in known]
        if not missing:
            return
        lib.log(f"registering {len(missing)} users")
        url = f"http://127.0.0.1:{self.args['api_port']}/api/register"
        async with aiohttp.ClientSession() as http:
            async def one(n: str) -> None:
                async with http.post(url, json={"user": n, "host": self.domain, "password": PASSWORD}) as r:
                    body = await r.text()
                    if r.status != 200 and "already" not in body:
                        raise RuntimeError(f"register {n}: HTTP {r.status} {body}")
            await gather_bounded([one(n) for n in missing], 8)
        self.state["users"] = sorted(known | set(missing))
        lib.write_state(self.args["state_path"], self.state)

    async def connect(self, names: list[str]) -> list[Xmpp]:
        await self.register(names)
        conns = [Xmpp(int(self.args["c2s_port"]), self.domain, n) for n in names]
        self.conns = conns
        await gather_bounded([x.connect() for x in conns])
        return conns

    def parse(self, e: Elem) -> list[int] | None:
        """[sender, seq, sent_ns] from a bench message body `b RUN SENDER SEQ NS`, else None."""
        if e.name != "message":
            return None
        body = e.child("body")
        if body is None:
            return None
        parts = body.text.split()
        if len(parts) != 5 or parts[0] != "b" or parts[1] != self.run_id:
            return None
        return [int(parts[2]), int(parts[3]), int(parts[4])]

    def body(self, sender: int, seq: int, sent_ns: int) -> str:
        return f"<body>b {self.run_id} {sender} {seq} {sent_ns}</body>"

    async def join(self, x: Xmpp, room: str) -> None:
        x.write(f"<presence to='{room}/{x.user}'><x xmlns='{MUC_NS}'><history maxstanzas='0'/></x></presence>")
        r = await x.expect(lambda e: e.name == "presence" and e.attrs.get("from") == f"{room}/{x.user}")
        if r.attrs.get("type") == "error":
            raise RuntimeError(f"{x.user}: could not join {room}")

    # -- scenarios ----------------------------------------------------------------------------------------

    async def fanout(self, p: dict[str, Any]) -> dict[str, Any]:
        members, n_senders = int(p["members"]), int(p["senders"])
        rate, duration = float(p["rate"]), float(p["duration"])
        n_senders = max(1, min(n_senders, members))
        conns = await self.connect([f"f{i}" for i in range(members)])
        room = f"r{self.run_id}@{self.muc}"
        owner = conns[0]
        await self.join(owner, room)
        # an instant room (XEP-0045 10.1.2): accept the default configuration of the server config
        owner.write(f"<iq type='set' to='{room}' id='cfg'><query xmlns='{MUC_NS}#owner'>"
                    "<x xmlns='jabber:x:data' type='submit'/></query></iq>")
        r = await owner.expect(lambda e: e.name == "iq" and e.attrs.get("id") == "cfg")
        if r.attrs.get("type") != "result":
            raise RuntimeError("could not configure the room")
        lib.log(f"{room}: joining {members - 1} members")
        await gather_bounded([self.join(x, room) for x in conns[1:]])
        sent = [0] * n_senders

        def handler_for(me: int) -> Callable[[Elem], None]:
            def handler(e: Elem) -> None:
                b = self.parse(e)
                if b is not None and b[0] != me:
                    self.tracker.record(me, b[0], b[1], b[2] / 1e9, time.monotonic())
            return handler

        for i, x in enumerate(conns):
            x.queue = asyncio.Queue()  # drop what setup left (room subject, presences)
            x.handler = handler_for(i)

        async def sender(i: int) -> None:
            x = conns[i]
            interval = n_senders / rate
            t_next = t0 + i * interval / n_senders
            seq = 0
            head = f"<message to='{room}' type='groupchat'>"
            while t_next < t_end:
                now = time.monotonic()
                if now >= t_end:
                    return
                if t_next > now:
                    await asyncio.sleep(t_next - now)
                x.write(head + self.body(i, seq, time.monotonic_ns()) + "</message>")
                seq += 1
                sent[i] = seq
                t_next += interval
                if seq % 16 == 0:
                    await x.writer.drain()

        def expected() -> int:
            return sum(sent) * (members - 1)

        self.window.start()
        t0 = time.monotonic()
        t_end = t0 + duration
        await asyncio.gather(*(sender(i) for i in range(n_senders)))
        send_phase = time.monotonic() - t0
        await self.wait_drained(expected, time.monotonic() + float(self.args["drain_s"]))
        self.window.stop()
        notes = [f"offered {rate:g} msg/s as {n_senders} senders (open loop, XMPP has no send ack), achieved "
                 f"{sum(sent) / send_phase:.1f} msg/s; all {members} members joined and receive"]
        return self.result(sum(sent), expected(), notes)

    async def dm(self, p: dict[str, Any]) -> dict[str, Any]:
        pairs, duration = int(p["pairs"]), float(p["duration"])
        conns = await self.connect([f"d{i}" for i in range(2 * pairs)])
        sent = [0]
        waiters: dict[int, asyncio.Future[None]] = {}
        rtt_timeout = float(self.args["rtt_timeout_s"])
        lost = [0]

        def handler_for(user: int) -> Callable[[Elem], None]:
            k, is_b = divmod(user, 2)
            peer = conns[user ^ 1]
            me = conns[user]

            def handler(e: Elem) -> None:
                b = self.parse(e)
                if b is None or b[0] == user:
                    return
                now = time.monotonic()
                if is_b:  # a ping: count it and answer at once
                    if self.tracker.record(user, b[0], b[1], None, now):
                        me.write(f"<message to='{peer.jid}' type='chat'>{self.body(user, b[1], b[2])}</message>")
                        sent[0] += 1
                elif self.tracker.record(user, b[0], b[1], b[2] / 1e9, now):  # a pong: latency = round trip
                    fut = waiters.pop(k, None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
            return handler

        for i, x in enumerate(conns):
            x.queue = asyncio.Queue()
            x.handler = handler_for(i)

        async def pinger(k: int) -> None:
            a, b = conns[2 * k], conns[2 * k + 1]
            seq = 0
            while time.monotonic() < t_end:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                waiters[k] = fut
                a.write(f"<message to='{b.jid}' type='chat'>{self.body(2 * k, seq, time.monotonic_ns())}</message>")
                sent[0] += 1
                seq += 1
                try:
                    await asyncio.wait_for(fut, rtt_timeout)
                except TimeoutError:
                    lost[0] += 1

        self.window.start()
        t_end = time.monotonic() + duration
        await asyncio.gather(*(pinger(k) for k in range(pairs)))
        await self.wait_drained(lambda: sent[0], time.monotonic() + float(self.args["drain_s"]))
        self.window.stop()
        notes = [f"{pairs} pairs ping-pong one-to-one chat messages between full JIDs, one at a time"]
        if lost[0]:
            notes.append(f"{lost[0]} pings got no pong within {rtt_timeout:g} s")
        return self.result(sent[0], sent[0], notes)

    async def wait_drained(self, expected: Callable[[], int], deadline: float) -> None:
        # deliveries are counted in parser callbacks: a 20 ms poll is simpler than an Event per count
        while self.tracker.delivered < expected() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    def result(self, sent: int, expected: int, notes: list[str]) -> dict[str, Any]:
        closed = sum(1 for x in self.conns if x.closed)
        if closed:
            notes.append(f"{closed} client streams were closed by the server during the run")
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

    async def close(self) -> None:
        await gather_bounded([x.close() for x in self.conns], 200)


async def main() -> None:
    args = lib.load_args()
    d = Driver(args)
    try:
        res = await (d.fanout(args["params"]) if args["scenario"] == "fanout" else d.dm(args["params"]))
    finally:
        await d.close()
    lib.emit_result(res, d.tracker.latencies, args["latency_path"])


if __name__ == "__main__":
    lib.run(main())
