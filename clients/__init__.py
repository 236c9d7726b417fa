"""Python clients for chatd. ``clients.ws.ChatClient`` is the minimal protocol client (trio)."""
