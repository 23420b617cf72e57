"""Text models the server samples replies from."""
