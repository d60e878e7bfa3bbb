"""What every scenario needs from whichever `huggingface_hub` release runs it, found by feature.

Scenarios run by path inside a side venv (see `tests/support/hfclient.py`), so this file is
imported as a sibling module, never from the test package, and may use only the standard
library and the client. Where releases differ (where an error class lives, which keyword a
call takes), the difference is detected here, once, instead of skipping on a version number.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import huggingface_hub

# Where releases have kept their error classes: the top-level package (where a release exports
# them), `huggingface_hub.errors` (the later 0.2x releases on) and `huggingface_hub.utils` (0.20).
_ERROR_MODULES = ("huggingface_hub", "huggingface_hub.errors", "huggingface_hub.utils")


def args() -> dict[str, Any]:
    """The scenario's inputs: one JSON object, the first command-line argument."""
    return json.loads(sys.argv[1])


def emit(out: dict[str, Any]) -> None:
    """The scenario's result: one JSON object on the last line of stdout, with the version."""
    print(json.dumps({"version": huggingface_hub.__version__, **out}))


def error_class(name: str) -> type[BaseException]:
    """The client's error class `name`, wherever this release defines or exports it."""
    for module_name in _ERROR_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    raise LookupError(f"huggingface_hub {huggingface_hub.__version__} has no {name}")


def where_error(name: str) -> list[str]:
    """The modules that expose `name`, so a test can say where each release keeps it."""
    places = []
    for module_name in _ERROR_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if isinstance(getattr(module, name, None), type):
            places.append(module_name)
    return places


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an error, from `requests` (0.x) or `httpx` (1.x on) responses."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def error_of(call: Callable[[], object], expected: str, *, text: bool = False) -> dict[str, Any]:
    """Run `call`, which must fail; say what it raised and whether that is `expected` (and,
    with `text`, the whole message: the server's words often come after the first line).

    The check is `isinstance`, not the class name: 1.x raises `RemoteEntryNotFoundError`,
    a subclass of `EntryNotFoundError`, where 0.x raised the base class itself.
    """
    try:
        call()
    except Exception as exc:
        found = {
            "raised": type(exc).__name__,
            "is_expected": isinstance(exc, error_class(expected)),
            "status": status_of(exc),
            "message": str(exc).splitlines()[0][:300] if str(exc) else "",
        }
        return {**found, "text": str(exc)[:2000]} if text else found
    return {"raised": None, "is_expected": False, "status": None, "message": "no error"}


def accepts(function: Callable[..., object], keyword: str) -> bool:
    """Whether this release's `function` takes `keyword` (a keyword added in some release)."""
    try:
        return keyword in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lfs_field(lfs: object, name: str) -> Any:
    """A field of a sibling's LFS info: an object in current releases, a dict in early ones."""
    if lfs is None:
        return None
    if isinstance(lfs, dict):
        return lfs.get(name)
    return getattr(lfs, name, None)


def failure_of(call: Callable[[], object]) -> dict[str, Any]:
    """Run `call`, which must fail with anything (a client-side refusal, not an HTTP error):
    the exception's class, its module and its first line."""
    try:
        call()
    except Exception as exc:
        return {
            "raised": type(exc).__name__,
            "module": type(exc).__module__,
            "status": status_of(exc),
            "message": str(exc).splitlines()[0][:300] if str(exc) else "",
        }
    return {"raised": None, "module": None, "status": None, "message": "no error"}


def has_copy() -> bool:
    """Whether this release has `CommitOperationCopy` (server-side copies in a commit)."""
    return hasattr(huggingface_hub, "CommitOperationCopy")


def copy_class() -> type:
    return huggingface_hub.CommitOperationCopy


def copies_regular_files() -> bool:
    """Whether `CommitOperationCopy` can copy a regular (non-LFS) file: releases that can
    fetch every source (`_fetch_files_to_copy`, which downloads regular ones through
    `/resolve`); the older `_fetch_lfs_files_to_copy` raises NotImplementedError for them."""
    commit_api = importlib.import_module("huggingface_hub._commit_api")
    return hasattr(commit_api, "_fetch_files_to_copy")


def xet_upload_pipeline() -> bool | None:
    """Whether this release would upload through Xet (and, in 2.x, `upload_folder`'s streamed
    multi-commit pipeline): `is_xet_available()` (in `utils._runtime`; 2.x no longer exports
    it from `utils`), which HF_HUB_DISABLE_XET=1 turns off; None for a release that predates
    Xet."""
    runtime = importlib.import_module("huggingface_hub.utils._runtime")
    check = getattr(runtime, "is_xet_available", None)
    return None if check is None else bool(check())


def make_private(api: Any, repo: str) -> str:
    """Make `repo` private with whatever this release has: `update_repo_settings(private=)`
    (0.2x on), else `update_repo_visibility` (0.20, removed in 1.0). Returns the call used."""
    settings = getattr(api, "update_repo_settings", None)
    if settings is not None and accepts(settings, "private"):
        settings(repo, private=True)
        return "update_repo_settings"
    api.update_repo_visibility(repo, private=True)
    return "update_repo_visibility"


def validates_card_on_commit() -> bool:
    """Whether `create_commit` (so `upload_file` and `upload_folder`) checks an added
    `README.md` with `POST /api/validate-yaml` first (`HfApi._validate_yaml`, after 0.20; 0.20
    validates only in `RepoCard.push_to_hub`)."""
    return hasattr(huggingface_hub.HfApi, "_validate_yaml")


def hub_request(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The Hub's own HTTP call, as a user of a release without a wrapper for it would make it:
    `method path` on HF_ENDPOINT with HF_TOKEN as the bearer, standard library only; the
    JSON answer (an HTTP error raises `urllib.error.HTTPError`)."""
    endpoint = os.environ["HF_ENDPOINT"]
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"HF_ENDPOINT is not an http(s) URL: {endpoint}")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        endpoint + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {os.environ['HF_TOKEN']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (as above)
        return json.loads(response.read() or b"null")


def like(api: Any, repo: str) -> str:
    """Like `repo` with `HfApi.like` where this release has it (0.20; later releases dropped
    it, "not possible from a script"), else with the Hub's call that `like` made. Returns the
    call used."""
    call = getattr(api, "like", None)
    if call is not None:
        call(repo)
        return "like"
    path = f"/api/models/{repo}/like"
    hub_request("POST", path)
    return f"POST {path}"


def likers(api: Any, repo: str) -> list[str] | None:
    """Who liked `repo`, by `list_repo_likers` (a list in 0.20, an iterator later); None for a
    release without the call."""
    call = getattr(api, "list_repo_likers", None)
    return None if call is None else [user.username for user in call(repo)]


def update_settings(api: Any, repo: str, wanted: dict[str, Any]) -> dict[str, Any]:
    """Send the settings in `wanted` with `update_repo_settings`, passing only the keywords
    this release takes; a release without the call (0.20) sends the Hub's settings request
    for `gated` itself. Returns the call used and the keywords it passed and left out."""
    call = getattr(api, "update_repo_settings", None)
    if call is None:
        path = f"/api/models/{repo}/settings"
        taken = {key: value for key, value in wanted.items() if key == "gated"}
        hub_request("PUT", path, taken)
        used = f"PUT {path}"
    else:
        taken = {key: value for key, value in wanted.items() if accepts(call, key)}
        call(repo, **taken)
        used = "update_repo_settings"
    return {"call": used, "passed": sorted(taken), "left_out": sorted(wanted.keys() - taken.keys())}


def file_system() -> Any:
    """A fresh `HfFileSystem` on HF_ENDPOINT with HF_TOKEN: fsspec caches instances by their
    arguments, so `skip_instance_cache` keeps one phase from reusing another's listings."""
    return huggingface_hub.HfFileSystem(
        endpoint=os.environ["HF_ENDPOINT"],
        token=os.environ["HF_TOKEN"],
        skip_instance_cache=True,
    )
