"""`chat`: a terminal chat client (Textual) on the SDK in clients/sdk."""
