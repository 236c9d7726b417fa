"""Prometheus metrics of one node (its own registry: two nodes in one process do not mix)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from chatd.protocol import frames as f

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge("chatd_connections", "Open websocket connections", registry=self.registry)
        self.actors = Gauge("chatd_actors", "Running actors", ["kind"], registry=self.registry)
        self.messages_in = Counter("chatd_messages_in", "Messages stored (sent, not counting retries)",
                                   registry=self.registry)
        self.messages_out = Counter("chatd_messages_out", "Messages written to client sockets",
                                    ["backlog"], registry=self.registry)
        self.delivery_latency = Histogram(
            "chatd_delivery_latency_seconds", "From commit to the live message being written to a recipient's socket",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self._out = {backlog: self.messages_out.labels(backlog=str(backlog).lower()) for backlog in (False, True)}

        self.replica_reads = Gauge(
            "chatd_replica_reads", "History and backlog reads since start, by where they went (docs/architecture.md)",
            ["served"], registry=self.registry)

    def watch(self, connections: Callable[[], int], actors: dict[str, Callable[[], int]],
              replica_reads: Callable[[], Mapping[str, int]] | None = None) -> None:
        self.connections.set_function(lambda: float(connections()))
        for kind, count in actors.items():
            self.actors.labels(kind=kind).set_function(lambda count=count: float(count()))  # type: ignore[misc]
        if replica_reads is not None:
            for served in replica_reads():
                self.replica_reads.labels(served=served).set_function(
                    lambda served=served: float(replica_reads()[served]))  # type: ignore[misc]

    def watch_bus(self, counts: Callable[[], dict[str, int]]) -> None:
        """The bus's traffic (actors/bus.py): events and bytes published, received and dropped."""
        family = Gauge("chatd_bus", "Bus traffic since start: events and bytes (a counter read at scrape)",
                       ["what"], registry=self.registry)
        for what in counts():
            family.labels(what=what).set_function(lambda what=what: float(counts()[what]))  # type: ignore[misc]

    def frame_written(self, frame: f.Frame) -> None:
        """Called by a connection's writer for every frame it sent."""
        if isinstance(frame, f.Msgs):
            self._out[frame.backlog].inc(len(frame.messages))
            if not frame.backlog:
                now_ms = time.time() * 1000
                for m in frame.messages:
                    self.delivery_latency.observe(max(0.0, now_ms - m.ts) / 1000)
        elif isinstance(frame, f.Sent) and not frame.duplicate:
            self.messages_in.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
