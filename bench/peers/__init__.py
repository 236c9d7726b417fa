"""The real-world peers chatd is compared against: Synapse (Matrix) and ejabberd (XMPP).

`PEERS` maps a name to a class; each is a context manager taking a work dir, installing, configuring and
starting its server on loopback (pinned to core 0) on enter and tearing it down on exit, with
`run(scenario, params) -> dict | None` returning the bench result schema (bench/schema.py).
The modules import only the standard library at import time: a missing peer dependency does not break this
import, it is installed (into bench/.work/peers-venv, or with apt for ejabberd) when a peer is entered.
Check one peer alone: `python -m bench.peers synapse fanout --members 10 --senders 2 --rate 50 --duration 5`.
"""

from __future__ import annotations

from bench.peers.ejabberd import EjabberdPeer
from bench.peers.synapse import SynapsePeer

PEERS: dict[str, type] = {"synapse": SynapsePeer, "ejabberd": EjabberdPeer}

__all__ = ["PEERS", "EjabberdPeer", "SynapsePeer"]
