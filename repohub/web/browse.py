"""What repo pages show, assembled from `repos` calls: header, file tree, card, file.

Everything derived from git objects is cached by object id (a tree's listing with sizes,
a card's HTML, a file's highlighting, a safetensors header), so a page view after the
first costs the access check, a few indexed queries and the template; git objects are
read again only when a revision moves to new trees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from markupsafe import Markup
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.errors import EntryNotFound, RepoHubError, RevisionNotFound
from repohub.repos import files
from repohub.repos.access import Access, access_level
from repohub.repos.cards import Card, Links, highlight_file, parse_card, render_markdown
from repohub.repos.context import Hub
from repohub.repos.files import FileEntry, MissingEntry
from repohub.repos.paths import commit_text, shown_path
from repohub.repos.reading import Entry, peel, repo_refs, resolve_revision, tree_at
from repohub.repos.safetensors_header import SafetensorsSummary, read_summary
from repohub.repos.service import RepoKey, get_repo, list_forks
from repohub.repos.settings import has_liked, writable_namespaces
from repohub.repos.storage import RepoStorage, repo_storage
from repohub.web.cache import Caches
from repohub.web.urls import RepoUrls, repo_path

T = TypeVar("T")
MAX_SHOWN_BYTES = 1024 * 1024
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MARKDOWN_EXTENSIONS = (".md", ".markdown")


@dataclass(frozen=True)
class FileRow:
    name: str
    kind: str  # "file" | "directory"
    size: int
    lfs: bool


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    title: str
    author: str
    date: datetime


@dataclass(frozen=True)
class Header:
    """The part of every repo page above its tabs."""

    key: RepoKey
    urls: RepoUrls
    private: bool
    description: str
    default_branch: str
    branches: list[str]
    tags: list[str]
    forked_from: str | None  # full name, when the viewer may see the parent
    forked_from_url: str | None
    forks: int
    likes: int
    downloads: int
    liked: bool
    can_write: bool
    is_admin: bool
    namespaces: list[str]
    empty: bool

    @property
    def full_name(self) -> str:
        return f"{self.key.owner}/{self.key.name}"


@dataclass(frozen=True)
class CardView:
    card: Card
    html: Markup


@dataclass(frozen=True)
class TreeView:
    header: Header
    rev: str
    commit: CommitInfo | None  # None: the repo is empty
    path: str
    rows: list[FileRow]
    readme: CardView | None
    tree_id: str = ""


@dataclass(frozen=True)
class FileView:
    header: Header
    rev: str
    commit_id: str
    path: str
    entry: FileEntry
    kind: str  # text | markdown | image | binary | lfs | too-large | unavailable
    html: Markup | None = None
    safetensors: SafetensorsSummary | None = None
    safetensors_error: str | None = None


def commit_info(commit) -> CommitInfo:  # type: ignore[no-untyped-def]
    """Title, author name and date of a dulwich commit (bytes of any encoding: shown text)."""
    author = commit_text(commit.author, commit.encoding).split(" <", 1)[0]
    title = commit_text(commit.message, commit.encoding).strip().split("\n", 1)[0]
    date = datetime.fromtimestamp(commit.commit_time, UTC)
    return CommitInfo(commit.id.decode(), title, author, date)


def with_store(hub: Hub, network_id: int, read: Callable[..., T]) -> T:
    """Run `read(store)` on this node's cached packs; refresh them only if an object is
    missing (another node stored a pack since), which saves a blob listing per view."""
    try:
        return read(hub.stores.get(network_id, refresh=False))
    except KeyError:
        return read(hub.stores.get(network_id))


def build_header(
    session: Session, identity: Identity, repo: Any, refs: dict[str, str] | None = None
) -> Header:
    """`repo` (a row from `get_repo`) has passed the access check for READ already;
    `refs` are its refs if the caller has read them already."""
    level = access_level(session, identity, repo)
    refs = repo_refs(session, repo) if refs is None else refs
    parent = repo.forked_from
    parent_visible = parent is not None and access_level(session, identity, parent) >= Access.READ
    return Header(
        key=RepoKey(repo.repo_type, repo.owner.name, repo.name),
        urls=RepoUrls.of(RepoKey(repo.repo_type, repo.owner.name, repo.name)),
        private=repo.private,
        description=repo.description,
        default_branch=repo.default_branch,
        branches=sorted(n[11:] for n in refs if n.startswith("refs/heads/")),
        tags=sorted(n[10:] for n in refs if n.startswith("refs/tags/")),
        forked_from=parent.full_name if parent is not None and parent_visible else None,
        forked_from_url=repo_path(parent.repo_type, parent.full_name)
        if parent is not None and parent_visible
        else None,
        forks=len(list_forks(session, identity, repo)),
        likes=repo.likes,
        downloads=repo.downloads,
        liked=has_liked(session, identity, repo),
        can_write=level >= Access.WRITE,
        is_admin=level >= Access.ADMIN,
        namespaces=writable_namespaces(session, identity),
        empty=not refs,
    )


def anonymous_state(hub: Hub, identity: Identity, key: RepoKey) -> tuple[object, ...]:
    """What a repo page shown to `identity` (anonymous) is rendered from, read through the
    access check: the page cache's key, so a pushed, edited or hidden repo misses at once."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        return (
            repo.id,
            repo.owner.name,
            repo.name,
            repo.updated_at,
            repo.private,
            repo.description,
            repo.default_branch,
            repo.likes,
            repo.downloads,
            repo.forked_from_id,
        )


def storage_figures(hub: Hub, caches: Caches, identity: Identity, key: RepoKey) -> RepoStorage:
    """The repo page's storage panel. Reading every pointer at every ref tip is not free, so
    the figures are kept until the repo's refs move (a push or commit bumps `updated_at`);
    the network's share may lag a fork's push by that much."""
    state = anonymous_state(hub, identity, key)
    return caches.storage.get(
        ("storage", state[0], state[3]), lambda: repo_storage(hub, identity, key)
    )


def header_only(hub: Hub, identity: Identity, key: RepoKey) -> Header:
    with hub.sessions() as session:
        return build_header(session, identity, get_repo(session, identity, key, Access.READ))


@dataclass(frozen=True)
class Listing:
    """A tree's rows, and the blob id of its README.md if that is small text."""

    rows: list[FileRow]
    readme: bytes | None


def _describe_tree(store, tree_id: bytes) -> Listing:  # type: ignore[no-untyped-def]
    """Directories first, then files, each by name; sizes are content sizes (LFS too)."""
    rows, readme = [], None
    for item in store[tree_id].iteritems():
        entry = Entry(shown_path(item.path), item.mode, item.sha)
        if entry.is_submodule:
            continue
        described = files.describe(store, entry)
        row = FileRow(entry.path, described.kind, described.size, described.lfs is not None)
        rows.append(row)
        if row.kind == "file" and row.name.lower() == "readme.md" and not row.lfs:
            readme = item.sha if row.size <= MAX_SHOWN_BYTES else None
    rows.sort(key=lambda r: (r.kind != "directory", r.name.lower()))
    return Listing(rows, readme)


def _card_view(caches: Caches, store, readme: bytes, links: Links) -> CardView:  # type: ignore[no-untyped-def]
    def render() -> CardView:
        card = parse_card(store[readme].as_raw_string().decode("utf-8", "replace"))
        return CardView(card, Markup(render_markdown(card.body, links)))  # noqa: S704

    return caches.cards.get((readme, links), render)


def _resolve(
    caches: Caches, session: Session, store, repo: Any, refs: dict[str, str], rev: str
) -> bytes:  # type: ignore[no-untyped-def]
    """A branch or tag through the refs already read (peeled once per target, cached);
    anything else (a commit id or prefix) through `resolve_revision`."""
    for name in (rev, f"refs/heads/{rev}", f"refs/tags/{rev}"):
        if name in refs:
            target = refs[name].encode()
            return caches.objects.get(("peel", target), partial(peel, store, target))
    return resolve_revision(session, store, repo, rev)


def _commit(caches: Caches, store, commit_id: bytes) -> tuple[CommitInfo, bytes]:  # type: ignore[no-untyped-def]
    """A commit's summary and root tree id, parsed once per process."""

    def read() -> tuple[CommitInfo, bytes]:
        commit = store[commit_id]
        return commit_info(commit), commit.tree

    return caches.objects.get(("commit", commit_id), read)


def _tree_id(caches: Caches, store, root: bytes, commit_id: bytes, path: str) -> bytes:  # type: ignore[no-untyped-def]
    if not path:
        return root

    def walk_down() -> bytes:
        try:
            return tree_at(store, commit_id, path).id
        except EntryNotFound as exc:
            raise MissingEntry(exc.message, commit_id.decode()) from exc

    return caches.objects.get(("tree", root, path), walk_down)


def tree_view(
    hub: Hub, caches: Caches, identity: Identity, key: RepoKey, rev: str | None, path: str
) -> TreeView:
    """The repo page (`path` empty, `rev` None: default branch) or a directory page."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        refs = repo_refs(session, repo)
        header = build_header(session, identity, repo, refs)
        if header.empty:
            if rev is not None:
                raise RevisionNotFound(f"Invalid rev id: {rev}")
            return TreeView(header, repo.default_branch, None, "", [], None)
        rev = rev or repo.default_branch
        path = files.clean_path(path)

        def read(store):  # type: ignore[no-untyped-def]
            commit_id = _resolve(caches, session, store, repo, refs, rev)
            commit, root = _commit(caches, store, commit_id)
            tree_id = _tree_id(caches, store, root, commit_id, path)
            listing = caches.trees.get(tree_id, lambda: _describe_tree(store, tree_id))
            links = Links(
                header.urls.blob(rev, "") + "/",
                header.urls.resolve(rev, "") + "/",
                path,
            )
            card = _card_view(caches, store, listing.readme, links) if listing.readme else None
            return TreeView(header, rev, commit, path, listing.rows, card, tree_id.decode())

        return with_store(hub, repo.network_id, read)


def _classify(
    hub: Hub, caches: Caches, entry: FileEntry, links: Links
) -> tuple[str, Markup | None]:
    name = entry.path.rsplit("/", 1)[-1]
    lowered = name.lower()
    if lowered.endswith(IMAGE_EXTENSIONS):
        return "image", None
    if entry.lfs is not None:
        return "lfs", None
    if entry.size > MAX_SHOWN_BYTES:
        return "too-large", None
    with files.open_bytes(hub, entry) as stream:
        data = stream.read()
    if b"\0" in data[:8000]:
        return "binary", None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", None
    if lowered.endswith(MARKDOWN_EXTENSIONS):

        def markdown() -> Markup:
            return Markup(render_markdown(parse_card(text).body, links))  # noqa: S704

        return "markdown", caches.files.get((entry.blob_id, "md", links), markdown)
    return "text", caches.files.get(
        (entry.blob_id, name),
        lambda: Markup(highlight_file(text, name)),  # noqa: S704
    )


def file_view(
    hub: Hub, caches: Caches, identity: Identity, key: RepoKey, rev: str, path: str
) -> FileView:
    """A file page. An LFS pointer whose object this repo may not read is shown as such."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        header = build_header(session, identity, repo)
        try:
            entry = files.read_entry(hub, session, repo, rev, path)
            unavailable = False
        except MissingEntry:
            entry = files.read_entry(hub, session, repo, rev, path, lfs=False)
            unavailable = True
    directory = entry.path.rpartition("/")[0]
    links = Links(header.urls.blob(rev, "") + "/", header.urls.resolve(rev, "") + "/", directory)
    if unavailable:
        return FileView(header, rev, entry.commit_id, entry.path, entry, "unavailable")
    kind, html = _classify(hub, caches, entry, links)
    view = FileView(header, rev, entry.commit_id, entry.path, entry, kind, html)
    if entry.path.lower().endswith(".safetensors"):
        return _with_safetensors(hub, caches, view)
    return view


def _with_safetensors(hub: Hub, caches: Caches, view: FileView) -> FileView:
    """The header summary, cached by content id: the bytes under an id never change."""
    try:
        summary = caches.headers.get(view.entry.etag, lambda: read_summary(hub, view.entry))
    except RepoHubError as exc:
        return replace(view, safetensors_error=exc.message)
    return replace(view, safetensors=summary)
