"""A dulwich repository view of one RepoHub repo: the network's objects, the repo's refs."""

from __future__ import annotations

from dulwich.config import ConfigDict
from dulwich.repo import BaseRepo

from repohub.objects.gitstore import NetworkObjectStore
from repohub.refs.sqlrefs import SqlRefsContainer


class HubRepo(BaseRepo):
    """Only what the protocol handlers use: no working tree, no config files, no hooks."""

    def __init__(self, store: NetworkObjectStore, refs: SqlRefsContainer) -> None:
        super().__init__(store, refs)
        self.hooks = {}

    def _determine_file_mode(self) -> bool:
        return False

    def _determine_symlinks(self) -> bool:
        return True

    def get_named_file(self, path: str, basedir: str | None = None) -> None:  # type: ignore[override]
        return None

    def _put_named_file(self, path: str, contents: bytes) -> None:
        raise NotImplementedError("RepoHub repos have no control files")

    def _del_named_file(self, path: str) -> None:
        return None

    def get_config(self) -> ConfigDict:  # type: ignore[override]
        return ConfigDict()

    def get_config_stack(self) -> ConfigDict:  # type: ignore[override]
        return ConfigDict()

    def get_description(self) -> bytes | None:
        return None

    def set_description(self, description: bytes) -> None:
        raise NotImplementedError("descriptions live in the database")
