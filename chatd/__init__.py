"""chatd: the node (config, embedded services, supervision tree) and its command line.

Every part of the server installs under this one namespace (chatd.actors, chatd.protocol, ...): see
docs/architecture.md, "Layout".
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chatd")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
