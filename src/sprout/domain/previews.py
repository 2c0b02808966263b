"""Preview stages: which branch or pull request gets a stage, what it is called, and when one is
refused. Pure rules; a branch name and a pull request's fields are written by whoever can push,
so nothing of them reaches a stack name but a checked slug.

A branch's stage is named by its slug: lowercase ``a-z0-9-``, at most 24 characters, starting
with a letter; a short hash of the whole branch name is appended when the slug was truncated or
changed beyond lowercasing, or when it would take a name already used (another stage, another
branch's preview, ``prod``, or the ``pr-<n>`` names of pull requests).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sprout.domain.errors import Conflict, InvalidInput, named
from sprout.domain.model import App
from sprout.domain.settings_values import Inheritance

MAX_SLUG = 24
HASH_LEN = 6
# names a branch's preview never takes as they are: the stage auto-rollback watches by default, and
# the pull requests' own names
RESERVED = frozenset({"prod"})
_PR_NAME = re.compile(r"pr-[0-9]+")
_PR_ID = re.compile(r"[0-9]{1,12}")
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


@dataclass(frozen=True)
class PreviewSettings:
    """``PUT /apps/{app}/previews``: branches (glob ``pattern``), pull requests (into ``targets``;
    none named: the branch of the first stage), the stage whose settings previews inherit, and how
    many previews may live at once."""

    branches_enabled: bool = False
    pattern: str = "*"
    pull_requests_enabled: bool = False
    targets: tuple[str, ...] = ()
    inherit_from: str | None = None
    limit: int = DEFAULT_LIMIT
    updated_at: str = ""
    updated_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def enabled(self) -> bool:
        return self.branches_enabled or self.pull_requests_enabled

    def view(self) -> dict[str, Any]:
        return {
            "branches": {"enabled": self.branches_enabled, "pattern": self.pattern},
            "pullRequests": {"enabled": self.pull_requests_enabled, "targets": list(self.targets)},
            "inheritFrom": self.inherit_from,
            "limit": self.limit,
            "updatedAt": self.updated_at or None,
            "updatedBy": self.updated_by,
        }


def settings_from_api(body: Mapping[str, Any], stage_names: Collection[str]) -> PreviewSettings:
    """The body of ``PUT .../previews``, checked (400 naming the field)."""
    branches = body.get("branches") or {}
    prs = body.get("pullRequests") or {}
    pattern = branches.get("pattern", "*")
    if not isinstance(pattern, str) or not 1 <= len(pattern) <= 256 or any(ord(c) < 32 for c in pattern):
        raise InvalidInput("branches.pattern", "must be a glob of 1 to 256 printable characters, e.g. feature/*")
    targets = tuple(prs.get("targets") or ())
    if any(not isinstance(t, str) or not t or len(t) > 256 for t in targets):
        raise InvalidInput("pullRequests.targets", "must be branch names")
    inherit = body.get("inheritFrom")
    if inherit is not None and inherit not in stage_names:
        raise InvalidInput("inheritFrom", f"the app has no stage {named(inherit)}")
    limit = body.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number from 0 to {MAX_LIMIT}")
    return PreviewSettings(bool(branches.get("enabled", False)), pattern, bool(prs.get("enabled", False)), targets,
                           inherit, limit)


def glob_matches(pattern: str, branch: str) -> bool:
    """``*`` matches within one path segment, ``**`` across segments, ``?`` one character."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.fullmatch(regex, branch) is not None


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LEN]


def branch_slug(branch: str, taken: Collection[str] = ()) -> str:
    """The preview stage name of ``branch``: a stable slug, unique among ``taken`` (the app's other
    stage names). The same branch always gets the same name for the same ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if not base or not base[0].isalpha():
        base = f"b-{base}".rstrip("-")
    exact = base == branch and len(base) <= MAX_SLUG
    clashes = base in taken or base in RESERVED or _PR_NAME.fullmatch(base) is not None
    if exact and not clashes:
        return base
    suffix = _short_hash(branch)
    return f"{base[: MAX_SLUG - HASH_LEN - 1].rstrip('-')}-{suffix}"


def pull_request_stage(pull_request_id: str) -> str:
    if not isinstance(pull_request_id, str) or not _PR_ID.fullmatch(pull_request_id):
        raise InvalidInput("pullRequestId", "must be CodeCommit's numeric pull request id")
    return f"pr-{int(pull_request_id)}"


def branch_wants_preview(settings: PreviewSettings | None, branch: str, followed: bool) -> bool:
    """A branch gets a preview when branch previews are on, it matches the pattern and no stage of
    the app follows it already."""
    return bool(settings and settings.branches_enabled and not followed and glob_matches(settings.pattern, branch))


def pull_request_wants_preview(settings: PreviewSettings | None, target: str, first_stage_branch: str | None) -> bool:
    if not settings or not settings.pull_requests_enabled:
        return False
    targets = settings.targets or ((first_stage_branch,) if first_stage_branch else ())
    return target in targets


def over_limit(settings: PreviewSettings, live: int) -> str | None:
    """Why a new preview is not created, or None."""
    if live >= settings.limit:
        return f"the app has {live} live previews, its limit ({settings.limit}): remove one or raise the limit"
    return None


def settings_inheritance(app: App, stage: str, settings: PreviewSettings | None) -> Inheritance | None:
    """What preview ``stage`` inherits: the settings of the app's ``inheritFrom`` stage, and its
    secrets only when that stage is not the last of the pipeline (prod's secrets never reach a
    preview: the preview's change set then names the secrets it lacks). None for a stage that is
    not a preview, or when previews inherit from nothing (or from a stage removed since)."""
    spec = app.stage(stage)
    if spec is None or spec.preview is None or settings is None or not settings.inherit_from:
        return None
    ordinary = [s.name for s in app.stages if not s.preview]
    if settings.inherit_from not in ordinary:
        return None
    return Inheritance(settings.inherit_from, secrets=settings.inherit_from != ordinary[-1])


class PreviewRefused(Conflict):
    """What a preview never does: promote, be promoted to, or roll back by itself."""


def refuse_for_preview(app: App, stage: str, what: str) -> None:
    """A preview deploys its branch and nothing else: no promote to it, no auto-rollback on it."""
    spec = app.stage(stage)
    if spec is not None and spec.preview is not None:
        raise PreviewRefused(f"stage {named(stage)} of app {named(app.name)} is a preview: {what}")


@dataclass(frozen=True)
class CommentState:
    """What the pull request's one comment says about its preview, at one moment: what runs (build,
    commit) and where it answers, what is being deployed, what failed, or that the stage is gone."""

    app: str
    stage: str
    running: tuple[int, str] | None = None  # (build, commit) the stage runs now
    urls: tuple[str, ...] = ()
    deploying: tuple[int | None, str] | None = None  # (build if known, commit) on its way
    failed: tuple[int, str, str] | None = None  # (build, commit, why)
    removed: str | None = None  # why the stage was removed


def preview_comment(state: CommentState) -> str:
    """The comment's text (Markdown). Nothing of it comes from the pull request but the checked
    stage name; the commit ids are git's hex, the URLs the stack's outputs."""
    lines = [f"**Sprout** preview stage `{state.stage}` of app `{state.app}`", ""]
    if state.removed:
        lines.append(f"- removed ({state.removed}): its stack and everything Sprout made for it are deleted")
        return "\n".join(lines)
    if state.running:
        build, commit = state.running
        where = ", ".join(state.urls) if state.urls else "(the stack has no URL outputs)"
        lines.append(f"- answers at {where} — build {build}, commit `{commit[:12]}`")
    if state.deploying:
        pending, commit = state.deploying
        lines.append(f"- deploying commit `{commit[:12]}`" + (f" (build {pending})" if pending is not None else "")
                     + ": this comment says when it answers")
    if state.failed:
        build, commit, why = state.failed
        lines.append(f"- build {build} (commit `{commit[:12]}`) failed to deploy: {why[:300]}")
    if len(lines) == 2:
        lines.append("- nothing deployed yet")
    return "\n".join(lines)
