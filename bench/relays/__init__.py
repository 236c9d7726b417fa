"""Minimal in-memory relays that speak chatd's frames for hello/create_group/open_direct/send/msgs: no
persistence, no acks, no auth (the hello token is the user name). They are the ceiling of a websocket
stack on this machine, run with the same workload as chatd (see bench/systems.py)."""
