"""Live feed: websocket clients and the change streams that feed them."""
