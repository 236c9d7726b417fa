"""A load-generator worker process: an asyncio (uvloop) loop holding many Conns, driven over a Pipe.

The parent sends (command, kwargs) tuples; each command runs to completion and its return value (or
the error text) goes back over the pipe. Progress counters live in shared memory so the parent can draw
a live progress bar without asking. Commands are the building blocks the scenarios combine: open users,
make rooms, send at a rate, collect what arrived, ping-pong, reconnect for backlog, page history.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
import traceback
from array import array
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

from bench import wire
from bench.loadclient import Conn, RequestFailed

MEASURED = frozenset({wire.FANOUT, wire.PONG, wire.FILL})  # PING is one way of a round trip: not measured
OPEN_CONCURRENCY = 64
SLOTS = 3  # progress counters per worker: opened, sent, delivered
OPENED, SENT, DELIVERED = range(SLOTS)


class Worker:
    def __init__(self, index: int, counters: Any) -> None:
        self.index = index
        self.counters = counters
        self.conns: dict[int, Conn] = {}
        self.url = ""
        self.changed = asyncio.Event()

    async def until(self, done: Callable[[], bool], deadline: float) -> bool:
        """Wait until `done()` (re-checked whenever a connection got a frame), or the deadline; returns done()."""
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.05))
        return True

    def bump(self, slot: int, n: int = 1) -> None:
        self.counters[self.index * SLOTS + slot] += n

    def _attach(self, conn: Conn) -> None:
        self.conns[conn.key] = conn
        conn.on_delivered = lambda n: self.bump(DELIVERED, n)
        conn.on_change = self.changed.set

    # ------------------------------------------------------------------ setup

    async def open(self, url: str, users: list[tuple[int, str, str]], signup: bool) -> dict[int, int | None]:
        """Connect (key, username, source address) users; chatd users sign up first, relay users only say hello."""
        self.url = url
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(key: int, username: str, source: str) -> None:
            async with gate:
                conn = await Conn.open(url, key, source, MEASURED, acks=signup)
                if signup:
                    await conn.signup(username)
                    await conn.hello()
                else:
                    conn.username = conn.token = username
                    await conn.hello(username)
                self._attach(conn)
                self.bump(OPENED)
        await asyncio.gather(*(one(*u) for u in users))
        return {key: self.conns[key].user_id for key, _, _ in users}

    async def request(self, key: int, frame: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        return await self.conns[key].request(frame, timeout)

    async def requests(self, calls: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several requests at once (at most OPEN_CONCURRENCY in flight); replies in order."""
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(key: int, frame: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                return await self.conns[key].request(frame)
        return await asyncio.gather(*(one(k, f) for k, f in calls))

    async def disconnect(self, keys: list[int]) -> dict[int, str]:
        """Close these connections; returns each one's access token (for a later reconnect)."""
        tokens = {}
        for key in keys:
            conn = self.conns.pop(key)
            tokens[key] = conn.token
            await conn.close()
        return tokens

    async def answers(self, timeout: float) -> dict[str, Any]:
        """Wait (up to `timeout`) for the replies to sends still unanswered; returns what they confirmed, per key."""
        await self.until(lambda: not any(c.sends.outstanding for c in self.conns.values()),
                         time.monotonic() + timeout)
        sent: dict[int, int] = {}
        errors: dict[str, int] = {}
        for key, conn in self.conns.items():
            stats = conn.take_sends()
            if stats.sent:
                sent[key] = sum(stats.sent.values())
            for code, n in stats.errors.items():
                errors[code] = errors.get(code, 0) + n
        return {"sent": sent, "errors": errors,
                "unanswered": sum(c.sends.outstanding for c in self.conns.values())}

    async def reset(self) -> None:
        """Forget what was received so far (setup traffic, earlier steps): a measured step starts from zero."""
        for conn in self.conns.values():
            conn.take_recv()

    async def alive(self) -> dict[str, Any]:
        """How many connections are still open, and the close codes of the others."""
        closed: dict[str, int] = {}
        for conn in self.conns.values():
            if conn.closed.is_set():
                closed[str(conn.close_code)] = closed.get(str(conn.close_code), 0) + 1
        return {"open": len(self.conns) - sum(closed.values()), "closed": closed}

    async def close_all(self) -> None:
        conns, self.conns = list(self.conns.values()), {}
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

    # ------------------------------------------------------------------ traffic

    async def send_plan(self, plan: list[tuple[int, int, float, int]], start_at: float, kind: str,
                        window: int, settle_s: float) -> dict[str, Any]:
        """Each (key, room, rate/s, count) sends `count` messages on schedule from `start_at`; then wait up to
        `settle_s` for the replies. Returns messages confirmed per (key, room) and errors by code."""
        async def sender(index: int, key: int, room: int, rate: float, count: int) -> None:
            conn = self.conns[key]
            interval = 1.0 / rate
            offset = interval * index / len(plan)  # senders interleave instead of sending in step
            for n in range(count):
                due = start_at + offset + n * interval
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if conn.sends.outstanding >= window:
                    await self.until(lambda: conn.sends.outstanding < window or conn.closed.is_set(),
                                     time.monotonic() + 60)
                if conn.closed.is_set():
                    return
                await conn.send_text(room, wire.body(kind, due, n))
                self.bump(SENT)
        await asyncio.gather(*(sender(i, *p) for i, p in enumerate(plan)))
        senders = {key for key, *_ in plan}
        await self.until(lambda: not any(self.conns[k].sends.outstanding for k in senders),
                         time.monotonic() + settle_s)
        sent: dict[str, int] = {}
        errors: dict[str, int] = {}
        unanswered = 0
        for key in senders:
            stats = self.conns[key].take_sends()
            unanswered += stats.outstanding
            for room, n in stats.sent.items():
                sent[f"{key}:{room}"] = sent.get(f"{key}:{room}", 0) + n
            for code, n in stats.errors.items():
                errors[code] = errors.get(code, 0) + n
        return {"sent": sent, "errors": errors, "unanswered": unanswered, "ended_at": time.monotonic()}

    async def collect(self, expected: dict[int, int], kinds: list[str], timeout: float) -> dict[str, Any]:
        """Wait until each connection received its expected count of `kinds` (or the timeout), then take and
        reset what every connection of this worker received."""
        def count(conn: Conn) -> int:
            return sum(conn.recv.delivered.get(k, 0) for k in kinds)
        await self.until(lambda: all(count(self.conns[k]) >= n or self.conns[k].closed.is_set()
                                     for k, n in expected.items() if k in self.conns), time.monotonic() + timeout)
        return self._take(kinds, expected)

    def _take(self, kinds: list[str], expected: dict[int, int]) -> dict[str, Any]:
        latencies = array("d")
        delivered = duplicates = out_of_order = short = frames = status = ws_in = ws_out = 0
        last_at = 0.0
        closed: dict[str, int] = {}
        short_by_key: dict[int, int] = {}
        surplus_by_key: dict[int, int] = {}
        for key, conn in self.conns.items():
            stats = conn.take_recv()
            got = sum(stats.delivered.get(k, 0) for k in kinds)
            delivered += got
            if expected.get(key, 0) > got:
                short_by_key[key] = expected[key] - got
                short += expected[key] - got
            elif got > expected.get(key, 0):
                surplus_by_key[key] = got - expected.get(key, 0)
            duplicates += stats.duplicates
            out_of_order += stats.out_of_order
            frames += stats.frames
            status += stats.status
            ws_in += stats.ws_in
            ws_out += stats.ws_out
            latencies.extend(stats.latencies)
            last_at = max(last_at, stats.last_at)
            if conn.closed.is_set():
                code = str(conn.close_code)
                closed[code] = closed.get(code, 0) + 1
        return {"delivered": delivered, "duplicates": duplicates, "out_of_order": out_of_order, "short": short,
                "frames": frames, "status": status, "ws_in": ws_in, "ws_out": ws_out, "short_by_key": short_by_key,
                "surplus_by_key": surplus_by_key,
                "latencies": latencies.tobytes(), "last_at": last_at, "closed": closed}

    async def pingpong(self, pairs: list[tuple[int, int, int]], start_at: float, duration: float,
                       settle_s: float) -> dict[str, Any]:
        """Closed loop per pair (a, b, room): a sends a ping, b echoes its due time in a pong, a sends the next
        ping on the pong. Runs `duration` seconds, then waits for the pings in flight."""
        stop_at = start_at + duration
        pongers: set[int] = {b for _, b, _ in pairs}
        pings_sent: dict[int, int] = {a: 0 for a, _, _ in pairs}
        rooms = {a: room for a, _, room in pairs} | {b: room for _, b, room in pairs}

        async def respond(conn: Conn, msg: dict[str, Any], kind: str) -> None:
            parsed = wire.parse_body(msg.get("body"))
            if parsed is None:
                return
            if kind == wire.PING and conn.key in pongers:
                await conn.send_text(rooms[conn.key], wire.body(wire.PONG, parsed[1], 0))
                self.bump(SENT)
            elif kind == wire.PONG and conn.key not in pongers and time.monotonic() < stop_at:
                await conn.send_text(rooms[conn.key], wire.body(wire.PING, time.monotonic(), 0))
                pings_sent[conn.key] += 1
                self.bump(SENT)
        for key in rooms:
            self.conns[key].responder = respond
        delay = start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for a, _, room in pairs:
            await self.conns[a].send_text(room, wire.body(wire.PING, time.monotonic(), 0))
            pings_sent[a] += 1
            self.bump(SENT)
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        await self.until(lambda: all((self.conns[a].recv.delivered.get(wire.PONG, 0) >= pings_sent[a]
                                      and not self.conns[a].sends.outstanding and not self.conns[b].sends.outstanding)
                                     or self.conns[a].closed.is_set() or self.conns[b].closed.is_set()
                                     for a, b, _ in pairs), time.monotonic() + settle_s)
        for key in rooms:
            self.conns[key].responder = None
        sent_ok: dict[int, int] = {}
        errors: dict[str, int] = {}
        unanswered = 0
        for key in rooms:
            stats = self.conns[key].take_sends()
            sent_ok[key] = sum(stats.sent.values())
            unanswered += stats.outstanding
            for code, n in stats.errors.items():
                errors[code] = errors.get(code, 0) + n
        expected = {b: sent_ok[a] for a, b, _ in pairs} | {a: sent_ok[b] for a, b, _ in pairs}
        taken = self._take([wire.PING, wire.PONG], expected)
        return {**taken, "sent": sum(sent_ok.values()), "errors": errors, "unanswered": unanswered}

    async def backlog(self, key: int, token: str, source: str, room: int, expected: int,
                      timeout: float) -> dict[str, Any]:
        """Reconnect `key` (hello with `token`) and time it until `expected` FILL messages of `room` arrived and
        the last frame was acked. The clock starts before the TCP connect."""
        started = time.monotonic()
        conn = await Conn.open(self.url, key, source, MEASURED)
        self._attach(conn)
        conn.token = token
        await conn.hello()
        await self.until(lambda: conn.recv.delivered.get(wire.FILL, 0) >= expected or conn.closed.is_set(),
                         started + timeout)
        done_at = conn.recv.last_at  # the reader sends the acks before it takes the next frame
        taken = self._take([wire.FILL], {key: expected})
        return {**taken, "reconnect_to_last_s": (done_at - started) if done_at else None,
                "complete": taken["short"] == 0}

    async def history(self, key: int, room: int, page: int, max_pages: int) -> dict[str, Any]:
        """Page back from the newest message, `page` at a time; check each page is ascending and joins the next."""
        conn = self.conns[key]
        times: list[float] = []
        seqs: list[int] = []
        problems: list[str] = []
        before: int | None = None
        started = time.monotonic()
        for _ in range(max_pages):
            frame: dict[str, Any] = {"t": "history", "room": room, "limit": page}
            if before is not None:
                frame["before_seq"] = before
            t0 = time.monotonic()
            reply = await conn.request(frame)
            times.append(time.monotonic() - t0)
            self.bump(DELIVERED, len(reply["messages"]))
            page_seqs = [m["seq"] for m in reply["messages"]]
            if page_seqs != sorted(page_seqs):
                problems.append(f"page before {before} is not ascending")
            if before is not None and page_seqs and page_seqs[-1] != before - 1:
                problems.append(f"gap: page before {before} ends at {page_seqs[-1]}")
            seqs.extend(page_seqs)
            if not reply.get("has_more") or not page_seqs:
                break
            before = page_seqs[0]
        return {"pages": len(times), "page_s": times, "total_s": time.monotonic() - started,
                "messages": len(seqs), "distinct": len(set(seqs)), "min_seq": min(seqs, default=0),
                "max_seq": max(seqs, default=0), "problems": problems}


async def _serve(worker: Worker, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    commands = ("open", "request", "requests", "disconnect", "answers", "reset", "alive", "close_all",
                "send_plan", "collect", "pingpong", "backlog", "history")
    table: dict[str, Callable[..., Awaitable[Any]]] = {name: getattr(worker, name) for name in commands}
    while True:
        command, kwargs = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            await worker.close_all()
            pipe.send(("ok", None))
            return
        try:
            pipe.send(("ok", await table[command](**kwargs)))
        except (RequestFailed, OSError, TimeoutError, KeyError, ValueError) as exc:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            pipe.send(("error", traceback.format_exc()))


def worker_main(index: int, pipe: Connection, counters: SynchronizedArray[Any], core: int | None) -> None:
    """Process entry point: pin to the load core, raise the fd limit, run the command loop on uvloop."""
    if core is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop
    uvloop.run(_serve(Worker(index, counters), pipe))
