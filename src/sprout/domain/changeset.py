"""What deploying a build to a stage changes, classed for a person: ``major`` changes need an
explicit confirm, ``minor`` ones (code only, memory, timeout) do not.

Functions are compared by their recorded sha256 and configuration; other resources by their
properties in the two packaged templates (function code locations aside: the hashes say that).
Environment values are never shown, only which keys changed — here and wherever a function's
configuration is shown (``masked_config``: the build view of the API, hence the CLI and the
console).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sprout.domain.model import Build, Deployment
from sprout.domain.physical_names import collisions, fixed_names

MAJOR, MINOR = "major", "minor"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
MAJOR_CONFIG = ("Handler", "Runtime", "Environment", "Role", "Policies", "Layers", "Architectures")
CODE_PROPERTIES = ("CodeUri", "Code", "AutoPublishCodeSha256")
MASKED = "(value masked)"


def masked_config(config: Any) -> Any:
    """A function's configuration as people see it: every environment variable's value replaced by
    ``MASKED`` (keys kept), as change sets show them."""
    env = config.get("Environment") if isinstance(config, dict) else None
    if not isinstance(env, dict) or not isinstance(variables := env.get("Variables"), dict):
        return config
    return {**config, "Environment": {**env, "Variables": dict.fromkeys(variables, MASKED)}}


@dataclass(frozen=True)
class Change:
    cls: str
    kind: str
    logical_id: str
    type: str
    detail: str
    before: Any = None
    after: Any = None

    def view(self) -> dict[str, Any]:
        shown = {"class": self.cls, "kind": self.kind, "logicalId": self.logical_id, "type": self.type,
                 "detail": self.detail}
        if self.before is not None or self.after is not None:
            shown.update(before=self.before, after=self.after)
        return shown


@dataclass(frozen=True)
class ChangeSet:
    id: str
    changes: list[Change]
    commits: list[dict[str, Any]] = field(default_factory=list)
    # physical names the build fixes that another stage of the app already holds (physical_names)
    collisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def confirm_required(self) -> bool:
        return any(c.cls == MAJOR for c in self.changes) or bool(self.collisions)

    def summary(self) -> str:
        major = sum(c.cls == MAJOR for c in self.changes)
        if not self.changes:
            head = "no changes"
        else:
            head = f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''} ({major} major, {len(self.changes) - major} minor)"
        commits = f", {len(self.commits)} commit{'s' if len(self.commits) != 1 else ''}" if self.commits else ""
        collide = (
            f", {len(self.collisions)} name{'s' if len(self.collisions) != 1 else ''} colliding with another stage"
            if self.collisions else ""
        )
        return head + commits + collide + ("; confirm required" if self.confirm_required else "")


def changeset_id(stage: str, current_deployment: str | None, build: int) -> str:
    """Names both sides: the stage's current deployment and the build."""
    return f"{stage}.{current_deployment or 'none'}.build-{build}"


def compute(
    stage: str,
    current_deployment: str | None,
    current: Build | None,
    current_template: dict[str, Any] | None,
    target: Build,
    target_template: dict[str, Any],
    commits: list[dict[str, Any]] | None = None,
    others: dict[str, dict[str, Any]] | None = None,
) -> ChangeSet:
    """``others``: the packaged template each other stage of the app runs (stage -> template), for
    the physical names the target fixes that one of them already holds."""
    before_fns = {f.logical_id: f for f in current.functions} if current else {}
    after_fns = {f.logical_id: f for f in target.functions}
    changes: list[Change] = []
    for lid in sorted(after_fns.keys() - before_fns.keys()):
        changes.append(Change(MAJOR, "function-added", lid, "AWS::Serverless::Function",
                              f"new function ({after_fns[lid].config.get('Runtime')})", after=after_fns[lid].sha256))
    for lid in sorted(before_fns.keys() - after_fns.keys()):
        changes.append(Change(MAJOR, "function-removed", lid, "AWS::Serverless::Function", "function removed",
                              before=before_fns[lid].sha256))
    for lid in sorted(before_fns.keys() & after_fns.keys()):
        old, new = before_fns[lid], after_fns[lid]
        if old.sha256 != new.sha256:
            changes.append(Change(MINOR, "code-changed", lid, "AWS::Serverless::Function",
                                  f"code sha256 {old.sha256[:12]} → {new.sha256[:12]}", old.sha256, new.sha256))
        changes += _config_changes(lid, old.config, new.config)
        changes += _property_changes(lid, current_template, target_template)
    changes += _resource_changes(current_template or {}, target_template)
    collide = collisions(
        fixed_names(target_template),
        fixed_names(current_template or {}),
        {name: fixed_names(template) for name, template in (others or {}).items()},
    )
    return ChangeSet(changeset_id(stage, current_deployment, target.number), changes, list(commits or []), collide)


def _config_changes(lid: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        cls = MAJOR if key in MAJOR_CONFIG else MINOR
        if key == "Environment":
            va = (a or {}).get("Variables") or {}
            vb = (b or {}).get("Variables") or {}
            keys = sorted(k for k in set(va) | set(vb) if va.get(k) != vb.get(k))
            detail = "environment " + ", ".join(
                f"{k} {'added' if k not in va else 'removed' if k not in vb else 'changed'} {MASKED}" for k in keys
            )
            changes.append(Change(cls, "config-changed", lid, "AWS::Serverless::Function", detail, None, keys))
        else:
            changes.append(Change(cls, "config-changed", lid, "AWS::Serverless::Function",
                                  f"{key} {_short(a)} → {_short(b)}", a, b))
    return changes


def _property_changes(lid: str, before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """A function's IAM (Role, Policies) changes, which the recorded configuration does not hold."""
    if before is None:
        return []
    old = ((before.get("Resources") or {}).get(lid) or {}).get("Properties") or {}
    new = ((after.get("Resources") or {}).get(lid) or {}).get("Properties") or {}
    return [
        Change(MAJOR, "config-changed", lid, "AWS::Serverless::Function", f"{key} changed (IAM)")
        for key in ("Role", "Policies")
        if _canonical(old.get(key)) != _canonical(new.get(key))
    ]


def _resource_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old = {k: v for k, v in (before.get("Resources") or {}).items() if _type(v) not in FUNCTION_TYPES}
    new = {k: v for k, v in (after.get("Resources") or {}).items() if _type(v) not in FUNCTION_TYPES}
    changes = []
    for lid in sorted(new.keys() - old.keys()):
        changes.append(Change(MAJOR, "resource-added", lid, _type(new[lid]), f"new {_type(new[lid])}"))
    for lid in sorted(old.keys() - new.keys()):
        changes.append(Change(MAJOR, "resource-removed", lid, _type(old[lid]), f"{_type(old[lid])} removed"))
    for lid in sorted(old.keys() & new.keys()):
        a, b = _without_code(old[lid]), _without_code(new[lid])
        if _canonical(a) != _canonical(b):
            t = _type(new[lid])
            props = sorted(k for k in set(a.get("Properties") or {}) | set(b.get("Properties") or {})
                           if _canonical((a.get("Properties") or {}).get(k)) != _canonical((b.get("Properties") or {}).get(k)))
            cls = MAJOR if t.startswith("AWS::IAM::") or _type(old[lid]) != t else MINOR
            changes.append(Change(cls, "resource-modified", lid, t,
                                  f"{t} modified" + (f": {', '.join(props)}" if props else "")))
        elif _content(old[lid]) != _content(new[lid]):
            changes.append(Change(MINOR, "code-changed", lid, _type(new[lid]), f"{_type(new[lid])} content changed",
                                  _content(old[lid]), _content(new[lid])))
    return changes


def _content(resource: dict[str, Any]) -> Any:
    """A layer's (or other non-function resource's) packaged content location: its sha256."""
    props = resource.get("Properties") or {}
    return props.get("ContentUri") or props.get("Content")


def _type(resource: Any) -> str:
    return resource.get("Type", "?") if isinstance(resource, dict) else "?"


def _without_code(resource: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in (resource.get("Properties") or {}).items() if k not in CODE_PROPERTIES and k != "ContentUri"}
    return {**resource, "Properties": props}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def changeset_view(cs: ChangeSet, app: str, stage: str, build: int, current: Deployment | None) -> dict[str, Any]:
    """The change set as the API shows it (and a 409 StaleChangeSet carries it)."""
    return {
        "changesetId": cs.id,
        "app": app,
        "stage": stage,
        "build": build,
        "current": {"deployment": current.id, "build": current.build} if current else None,
        "confirmRequired": cs.confirm_required,
        "summary": cs.summary(),
        "changes": [c.view() for c in cs.changes],
        "commits": cs.commits,
        "collisions": cs.collisions,
    }
