"""Benchmarks that hold RepoHub against reference implementations (C git for git serving).

Run them as modules from the repository root, e.g. ``python -m benchmarks.git_bench``.
"""
