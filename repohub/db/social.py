"""Models for the web's social and session features (issue: web pages)."""

from __future__ import annotations
