"""Refs: SQL rows moved only by compare-and-swap, a symbolic HEAD, and the push log."""
