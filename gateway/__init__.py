"""The websocket side: handshake checks, one task pair (reader, writer) per connection, request handlers."""
