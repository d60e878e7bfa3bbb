"""Settings: one validated object, built by entry points and passed down.

Nothing below the entry points reads the environment; they build a `Settings` and hand it
to the app factory, the CLI commands and the worker.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob RepoHub has; environment variables carry the `REPOHUB_` prefix."""

    model_config = SettingsConfigDict(env_prefix="REPOHUB_", extra="ignore")

    data_dir: Path = Path("repohub-data")
    database_url: str | None = None
    storage_url: str | None = None
    cache_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    broker_url: str | None = None
    secret_key: str | None = None
    public_url: str | None = None
    environment: str = "development"
    max_pack_bytes: int = Field(default=8 * 1024**3, description="largest push accepted")
    max_request_body_bytes: int = Field(default=16 * 1024**2, description="largest JSON body")
    max_commit_body_bytes: int = Field(
        default=256 * 1024**2,
        description="largest Hub API commit (NDJSON; files under 1 MiB travel inline in it)",
    )
    pack_cache_bytes: int = Field(default=4 * 1024**3, description="per-node pack cache budget")
    lfs_single_put_limit: int = Field(
        default=5 * 1024**3, description="above this, LFS uploads stream through RepoHub"
    )
    lfs_url_ttl: int = Field(default=3600, description="seconds a transfer URL stays valid")
    xet_token_ttl: int = Field(default=3600, description="seconds a Xet CAS token stays valid")
    xet_dedup_ttl: int = Field(
        default=86400, description="seconds a client may use a global-dedup answer"
    )
    max_xorb_bytes: int = Field(
        default=64 * 1024**2 + 512 * 1024, description="largest Xet xorb body accepted"
    )
    max_shard_bytes: int = Field(default=64 * 1024**2, description="largest Xet shard accepted")
    xet_recent_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="with S3 storage, bytes of recently uploaded Xet xorbs kept on local disk "
        "(0: none), so a commit's checks and first downloads need not read them back",
    )
    large_file_threshold: int = Field(
        default=10 * 1024**2, description="largest non-LFS blob a push may carry"
    )
    site_hooks_dir: Path | None = Field(
        default=None, description="an administrator's own hooks, run after RepoHub's"
    )
    hook_timeout: float = Field(
        default=60.0, description="seconds one push hook may run; a pre-receive timeout refuses"
    )
    hook_path: str = Field(
        default_factory=lambda: os.environ.get("PATH", os.defpath),
        description="PATH that push hooks run with (default: the server's own)",
    )
    session_ttl_days: int = Field(default=30, description="days a web login session lasts")
    login_window_seconds: int = Field(
        default=900, description="how far back failed web logins count towards throttling"
    )
    login_failures_per_account: int = Field(
        default=5, description="failed logins to one account in the window before it is throttled"
    )
    login_failures_per_ip: int = Field(
        default=50,
        description="failed logins from one address in the window before it is throttled",
    )
    web_workers: int = Field(
        default=1, ge=1, description="web server processes `repohub serve` runs (uvicorn workers)"
    )
    web_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="threads per web process for request work (git and LFS transfers have "
        "their own pool); a few suffice, as Python runs one at a time",
    )

    # Training and evaluation jobs (DESIGN.md section 6).
    serve_worker: bool = Field(
        default=True, description="`repohub serve` runs a job worker beside the server"
    )
    broker_key_prefix: str = Field(
        default="", description="prefix of every Redis key the broker writes (shared Redis)"
    )
    worker_queues: str = Field(
        default="cpu", description="comma-separated queues a worker takes jobs from: cpu, gpu"
    )
    worker_concurrency: int = Field(default=1, description="jobs one worker runs at once")
    job_threads: int | None = Field(
        default=None, description="torch threads per run (default: torch's choice, the cores)"
    )
    jobs_per_user: int = Field(default=2, description="jobs one user may have running at once")
    job_max_attempts: int = Field(
        default=2, description="runs a job gets when its worker dies under it"
    )
    job_heartbeat_interval: float = Field(
        default=3.0, description="seconds between a running job's heartbeats (and live updates)"
    )
    job_heartbeat_timeout: float = Field(
        default=60.0, description="seconds without a heartbeat before a job's worker is lost"
    )
    job_memory_limit_mb: int = Field(
        default=8192, description="memory a run may use unless its spec sets memory_mb"
    )
    job_time_limit: float = Field(default=6 * 3600.0, description="seconds a run may take")
    scheduler_interval: float = Field(
        default=0.5, description="seconds between two scans for jobs to dispatch"
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'repohub.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir.resolve() / "blobs").as_uri()

    @property
    def resolved_cache_dir(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache").resolve()

    def resolved_secret_key(self) -> str:
        """The signing key; in development a random one is kept under the data dir.

        Production refuses to run without an explicit key, so two API nodes never sign with
        different secrets by accident.
        """
        if self.secret_key:
            return self.secret_key
        if self.environment != "development":
            raise RuntimeError("REPOHUB_SECRET_KEY must be set outside development")
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
