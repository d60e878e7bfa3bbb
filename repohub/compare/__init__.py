"""Comparing two versions of a repo: revisions, commits, files, weights and reports."""
