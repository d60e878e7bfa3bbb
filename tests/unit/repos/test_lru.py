"""The per-process LRU behind the page and compare caches."""

from __future__ import annotations

from repohub.repos.lru import Lru


def test_bounded_least_recently_used_first_out_and_cleared() -> None:
    lru: Lru[str] = Lru(2)
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    assert lru.get("a", lambda: compute("a")) == "A"
    assert lru.get("b", lambda: compute("b")) == "B"
    assert lru.get("a", lambda: compute("a")) == "A"  # a hit, and now the newest
    lru.put("c", "C")  # evicts b, the least recently used
    assert lru.peek("b") is None and lru.peek("a") == "A" and lru.peek("c") == "C"
    assert computed == ["a", "b"]
    lru.clear()
    assert lru.peek("a") is None and lru.peek("c") is None
