"""The error taxonomy: each base class implies one HTTP status.

Domain errors subclass these; each surface (Hub JSON, git, LFS, web) renders them in one
place, so a rule enforced in `repos` reads the same through every entry point.
"""

from __future__ import annotations


class RepoHubError(Exception):
    """Base of every error RepoHub reports to a user."""

    status_code = 500
    error_code: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(RepoHubError):
    status_code = 400


class Unauthenticated(RepoHubError):
    """Credentials are missing or wrong (git answers this with a Basic challenge)."""

    status_code = 401


class PermissionDenied(RepoHubError):
    status_code = 403


class NotFound(RepoHubError):
    status_code = 404


class Conflict(RepoHubError):
    status_code = 409


class PreconditionFailed(RepoHubError):
    status_code = 412


class PayloadTooLarge(RepoHubError):
    status_code = 413


class Unprocessable(RepoHubError):
    status_code = 422


class RepoNotFound(NotFound):
    error_code = "RepoNotFound"


class RevisionNotFound(NotFound):
    error_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    error_code = "EntryNotFound"


class InvalidName(InvalidArgument):
    """A user-chosen name (owner, repo, ref) that breaks the naming rules."""


class ChecksumMismatch(Unprocessable):
    """Bytes that do not hash to what their uploader promised."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"checksum mismatch: expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class SizeMismatch(Unprocessable):
    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"size mismatch: expected {expected} bytes, got {got}")
        self.expected = expected
        self.got = got


class ServiceUnavailable(RepoHubError):
    """A service RepoHub stands on (its database, its storage) does not answer right now:
    the request may succeed when it is retried, so it is a 503, never a 500."""

    status_code = 503


class DatabaseUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__("service unavailable: the database cannot be reached; try again shortly")


class StorageUnavailable(ServiceUnavailable):
    """The blob store (S3 or the local blob directory) refused or failed an operation."""
