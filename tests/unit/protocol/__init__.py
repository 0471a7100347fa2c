"""Unit tests of the pure protocol core (no sockets, no event loop)."""
