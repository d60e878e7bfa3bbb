"""Every model module, imported so `Base.metadata` knows every table (Alembic, tests)."""

from __future__ import annotations

from repohub.db import jobs, models, social, xet

Base = models.Base
__all__ = ["Base", "jobs", "models", "social", "xet"]
