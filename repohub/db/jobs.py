"""Models for training and evaluation jobs and their reports (issue: jobs)."""

from __future__ import annotations
