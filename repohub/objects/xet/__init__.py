"""Xet storage: the wire formats of xorbs and shards, and where their bytes live."""
