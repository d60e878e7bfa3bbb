"""Trained weights are stored once for the whole hub, however many jobs produce them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from repohub.config import Settings
from repohub.db.migrate import upgrade
from repohub.db.models import Network
from repohub.jobs.outputs import store_weights
from repohub.repos.context import Hub
from repohub.repos.lfs import granted_sizes, hub_stored_bytes


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    built = Hub.build(settings)
    yield built
    built.close()


def test_the_same_weights_are_one_lfs_object(hub: Hub, tmp_path: Path) -> None:
    with hub.sessions.begin() as session:
        first, second = Network(), Network()
        session.add_all([first, second])
        session.flush()
        networks = (first.id, second.id)
    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(b"tensor bytes" * 1000)
    oids = {store_weights(hub, network, weights) for network in (*networks, networks[0])}
    assert len(oids) == 1
    ((oid, size),) = oids
    with hub.sessions() as session:
        assert hub_stored_bytes(session) == (1, size)
        for network in networks:
            assert granted_sizes(session, network, [oid]) == {oid: size}
    with hub.lfs.open(oid) as stored:
        assert stored.read() == weights.read_bytes()
