"""The admin console's server side (issue 8): what an operator sees of the live actor system, and can do to it.

- ``context``: AdminContext, the node's parts the console looks at (built by chatd/node.py)
- ``report``: the supervision tree, actors, users, rooms, database and Redis as JSON-ready dicts
- ``actions``: restart an actor, stop an idle room, disconnect or disable a user
- ``drain``: stop taking connections, close the open ones (1012), let the rooms commit, stop the node
- ``logjson``: the one-JSON-object-per-line log formatter (CHAT_LOG_FORMAT=json)

The HTTP routes are in httpapi/admin.py; the operator's client (`chatctl`) in console/.
"""
