"""The first commit of a new repo, as the Hub makes it: `.gitattributes` and a card stub.

Hub clients upload to `main` and `snapshot_download` needs a commit, so a repo is never
created without one unless the creator asks for an empty repo to push their own history.
"""

from __future__ import annotations

import io
import time

from dulwich.objects import Blob, Commit, Tree
from dulwich.pack import write_pack_objects

from repohub.objects.gitstore import NetworkObjectStore

LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar.*",
    "*.tar",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
)
DATASET_EXTRA = ("*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif", "*.mp3", "*.wav", "*.flac", "*.mp4")


def gitattributes(repo_type: str) -> bytes:
    patterns = LFS_PATTERNS + (DATASET_EXTRA if repo_type == "dataset" else ())
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in patterns).encode()


def model_card(full_name: str, repo_type: str) -> bytes:
    kind = "Dataset" if repo_type == "dataset" else "Model"
    return (
        f"---\nlicense: other\n---\n\n# {full_name}\n\n"
        f"{kind} card: describe what this {kind.lower()} is, how it was made and how to use it.\n"
    ).encode()


def make_initial_commit(
    store: NetworkObjectStore, *, full_name: str, repo_type: str, author: str, email: str
) -> bytes:
    """Write the initial commit's objects as one pack and return the commit id."""
    attrs = Blob.from_string(gitattributes(repo_type))
    card = Blob.from_string(model_card(full_name, repo_type))
    tree = Tree()
    tree.add(b".gitattributes", 0o100644, attrs.id)
    tree.add(b"README.md", 0o100644, card.id)
    commit = Commit()
    commit.tree = tree.id
    commit.author = commit.committer = f"{author} <{email}>".encode()
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"initial commit\n"
    buf = io.BytesIO()
    write_pack_objects(
        buf.write,
        [(o, None) for o in (attrs, card, tree, commit)],
        object_format=store.object_format,
    )
    buf.seek(0)
    incoming = store.receive_pack(buf.read, None)
    incoming.publish()
    return commit.id
