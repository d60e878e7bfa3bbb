"""`repohub compare` talks to a RepoHub server over its HTTP API, like any other client:
the server does the access checks, so the CLI needs no database and works from anywhere.

Standard library only (urllib), so the command works in a plain `pip install repohub`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from repohub.errors import RepoHubError

TIMEOUT = 120


class RemoteError(RepoHubError):
    """The server answered an error; its message is the server's own."""


def _call(method: str, url: str, token: str | None, body: Any = None) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise RemoteError(f"{url}: the server URL must start with http:// or https://")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (checked above)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (checked)
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        raise RemoteError(f"{exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise RemoteError(f"cannot reach {url}: {exc.reason}") from None


def compare_url(server: str, repo_type: str, repo: str, revisions: str) -> str:
    if "..." not in revisions and ".." not in revisions:
        raise RemoteError(f"{revisions!r} is not of the form BASE...HEAD")
    return f"{server.rstrip('/')}/api/{repo_type}s/{repo}/compare/{quote(revisions, safe=':.')}"


def fetch(server: str, token: str | None, repo_type: str, repo: str, revisions: str) -> dict:
    return _call("GET", compare_url(server, repo_type, repo, revisions), token)


def evaluate(
    server: str, token: str | None, repo: str, revisions: str, dataset: str | None
) -> dict[str, Any]:
    url = compare_url(server, "model", repo, revisions) + "/evaluate"
    return _call("POST", url, token, {"dataset": dataset} if dataset else {})


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def summary(data: dict[str, Any]) -> list[str]:
    """The compare as a few lines of text: sides, commits, verdicts, what is missing."""
    base, head = data["base"], data["head"]
    lines = [
        f"{data['repo']}: {base['spec']} ({base['sha'][:7]}) ... {head['spec']} "
        f"({head['sha'][:7]})",
        f"head is {data['ahead_by']} commit(s) ahead and {data['behind_by']} behind "
        f"(merge base {str(data['merge_base'])[:7]})",
    ]
    for v in data.get("verdicts") or []:
        sign = "+" if v["delta"] >= 0 else ""
        lines.append(
            f"  {v['split']} {v['metric']}: {_number(v['base'])} -> {_number(v['head'])} "
            f"({sign}{_number(v['delta'])}, {v['verdict']}; {v['better']} is better)"
        )
    for m in data.get("missing") or []:
        lines.append(f"  ! {m['message']}" + (f" (job {m['job_state']})" if m["job_state"] else ""))
    if data.get("dataset_mismatch"):
        lines.append(f"  ! {data['dataset_mismatch']['message']}")
    changed = (data.get("files") or {}).get("changed") or []
    lines.append(f"{len(changed)} file(s) changed")
    ab = data.get("ab")
    if ab:
        result = ab.get("result")
        if result:
            low, high = result["ci95"]
            lines.append(
                f"A/B on {ab['dataset']}: accuracy {result['base_accuracy']:.4f} -> "
                f"{result['head_accuracy']:.4f} (difference {result['difference']:+.4f}, "
                f"95% CI [{low:+.4f}, {high:+.4f}], McNemar p = {result['mcnemar_p']:.4g}, "
                f"{result['mcnemar_method']})"
            )
        else:
            lines.append(f"A/B job {ab['job_id']} is {ab['state']}")
    return lines
