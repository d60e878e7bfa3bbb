"""The Git LFS API's request bodies, as git-lfs and the Hub client send them.

Unknown keys are ignored (clients add them over time); what RepoHub reads is typed, so a wrong
type is a 422 in the LFS error shape naming the field. Batch objects stay untyped here: the
specification answers a bad object with an error on that object alone, not on the request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge
from pydantic import ConfigDict, Field

from repohub.api.bodies import BodyModel, DbInt


class LfsBody(BodyModel):
    model_config = ConfigDict(extra="ignore")


class LfsRef(LfsBody):
    name: str


class BatchRequest(LfsBody):
    operation: Literal["upload", "download"]
    transfers: list[str] = Field(default_factory=lambda: ["basic"])
    hash_algo: str = "sha256"
    objects: list[Any]
    ref: LfsRef | None = None


class VerifyObject(LfsBody):
    oid: str | None = None
    size: DbInt | None = None


class LockRequest(LfsBody):
    path: str
    ref: LfsRef | None = None


class VerifyLocks(LfsBody):
    cursor: str | None = None
    limit: Annotated[DbInt, Ge(1)] | None = None
    ref: LfsRef | None = None


class UnlockRequest(LfsBody):
    force: bool = False
    ref: LfsRef | None = None
