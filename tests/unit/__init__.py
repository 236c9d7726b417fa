"""Fast tests of the pure parts: no Postgres, no Redis, no sockets; trio ones run on an autojump clock."""
