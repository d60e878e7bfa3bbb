"""Why a pushed pack is refused; the message reaches the pusher as git's `unpack` status."""

from __future__ import annotations


class InvalidPack(Exception):
    """The bytes a client sent are not a valid pack (or need objects nobody has)."""


class PackTooLarge(InvalidPack):
    """More bytes arrived than the server's push limit allows."""
