"""Run one peer alone and print the result JSON.

    python -m bench.peers synapse fanout --members 10 --senders 2 --rate 50 --duration 5
    python -m bench.peers ejabberd dm --pairs 50 --duration 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bench.peers import PEERS
from bench.peers._common import REPO


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("scenario", choices=["fanout", "dm"])
    ap.add_argument("--members", type=int, default=10, help="fanout: room size")
    ap.add_argument("--senders", type=int, default=2, help="fanout: members who send")
    ap.add_argument("--rate", type=float, default=50.0, help="fanout: total offered messages/s")
    ap.add_argument("--pairs", type=int, default=10, help="dm: user pairs ping-ponging")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of load")
    ap.add_argument("--workdir", type=Path, default=None, help="default: bench/.work/cli-PEER (emptied first)")
    a = ap.parse_args(argv)
    if a.scenario == "fanout":
        params: dict[str, float | int] = {"members": a.members, "senders": a.senders, "rate": a.rate,
                                          "duration": a.duration}
    else:
        params = {"pairs": a.pairs, "duration": a.duration}
    workdir = a.workdir or REPO / "bench" / ".work" / f"cli-{a.peer}"
    shutil.rmtree(workdir, ignore_errors=True)  # logs of the previous run
    workdir.mkdir(parents=True)
    with PEERS[a.peer](workdir) as peer:
        result = peer.run(a.scenario, params)
    print(f"logs: {workdir}", file=sys.stderr)
    if result is None:
        print(f"{a.peer} cannot run {a.scenario}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
