"""Pieces every simulator shares: fault injection, server-side rate limiting, loopback serving."""
