"""Per-stage settings and secrets (issue 22): read and merge a stage's settings, store, list and
remove its secrets, and say which value each template Parameter gets at a deploy.

A secret's value goes from the request straight to Parameter Store (``SecretStore.put``) and is
never returned, recorded, logged or traced here: the lineage keeps only who set which version when.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sprout.domain import settings_values as rules
from sprout.domain.errors import InvalidInput, NotFound, named
from sprout.domain.pipeline import stack_name
from sprout.domain.settings_values import SecretMeta, StageSettings


class SettingsStore(Protocol):
    """The lineage's record of a stage's settings and its secrets' metadata."""

    def read_settings(self, app: str, stage: str) -> StageSettings: ...

    def write_settings(self, app: str, stage: str, settings: StageSettings) -> bool:
        """Write if the record is still at ``settings.version``; False when it moved on."""
        ...


class SecretStore(Protocol):
    """Parameter Store: SecureStrings under a stage's path."""

    def put(self, path: str, value: str) -> int:
        """Store (or overwrite) a SecureString; returns its new version."""
        ...

    def delete(self, path: str) -> bool:
        """Remove a parameter; False when there was none."""
        ...

    def versions(self, prefix: str) -> dict[str, dict[str, Any]]:
        """name -> {"version", "at"} for every parameter directly under ``prefix`` (no values)."""
        ...


class StageExists(Protocol):
    def get_stage(self, app: str, stage: str) -> Any:
        """Raises StageNotFound (or AppNotFound)."""
        ...


class Clock(Protocol):
    def __call__(self) -> str: ...


class StackReads(Protocol):
    def describe(self, stack: str) -> dict[str, Any] | None:
        """The stack as DescribeStacks tells it (its ``Parameters``), None when there is none."""
        ...


class SettingsParents(Protocol):
    def settings_inheritance(self, app: str, stage: str) -> rules.Inheritance | None:
        """What a preview inherits (sprout.domain.previews.settings_inheritance); None for others."""
        ...


class SecretNotFound(NotFound):
    pass


ATTEMPTS = 20


class StageSettingsService:
    def __init__(self, store: SettingsStore, secrets: SecretStore, stages: StageExists, now: Clock,
                 stacks: StackReads | None = None, parents: SettingsParents | None = None):
        self.parents = parents
        self.store = store
        self.secrets = secrets
        self.stages = stages
        self.now = now
        self.stacks = stacks

    # -- settings --

    def get_settings(self, app: str, stage: str) -> dict[str, Any]:
        self.stages.get_stage(app, stage)
        current = self.store.read_settings(app, stage)
        view = _view(app, stage, current)
        inheritance = self.parents.settings_inheritance(app, stage) if self.parents is not None else None
        if inheritance is not None:  # a preview: what it inherits, and from where (never a secret's value)
            got = effective_settings(self.store, app, stage, inheritance)
            view["inherited"] = {"from": inheritance.parent, "secrets": inheritance.secrets,
                                 "values": {k: got.values[k] for k in sorted(got.inherited) if k in got.values},
                                 "secretNames": sorted(k for k in got.inherited if k in got.secrets)}
        return view

    def put_settings(self, app: str, stage: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("body", "must be a JSON object")
        unknown = sorted(set(body) - {"values"})
        if unknown:
            raise InvalidInput(unknown[0], "is not a known field")
        if "values" not in body:
            raise InvalidInput("values", "is required")
        self.stages.get_stage(app, stage)
        for _ in range(ATTEMPTS):
            current = self.store.read_settings(app, stage)
            merged = rules.merge(current.values, body["values"], current.secrets)
            if self.store.write_settings(app, stage, StageSettings(merged, current.secrets, current.version)):
                return _view(app, stage, StageSettings(merged, current.secrets))
        raise InvalidInput("values", "the stage's settings kept changing under this request: send it again")

    # -- secrets --

    def put_secret(self, app: str, stage: str, name: str, body: Any, who: str) -> dict[str, Any]:
        """Everything is checked before Parameter Store is written: nothing half-written."""
        rules.check_name("name", name)
        if not isinstance(body, dict):
            raise InvalidInput("body", "must be a JSON object")
        unknown = sorted(set(body) - {"value"})
        if unknown:
            raise InvalidInput(unknown[0], "is not a known field")
        if "value" not in body:
            raise InvalidInput("value", "is required")
        value = rules.check_secret_value(body["value"])
        self.stages.get_stage(app, stage)
        if name in self.store.read_settings(app, stage).values:
            raise InvalidInput("name", f"{name} is a setting of stage {named(stage)}: a name is a setting or a secret")
        version = self.secrets.put(rules.secret_path(app, stage, name), value)
        del value
        meta = SecretMeta(version, who, self.now())
        self._record(app, stage, lambda secrets: {**secrets, name: meta})
        return {"name": name, "path": rules.secret_path(app, stage, name), **_meta_view(meta)}

    def list_secrets(self, app: str, stage: str) -> dict[str, Any]:
        self.stages.get_stage(app, stage)
        recorded = self.store.read_settings(app, stage).secrets
        stored = self.secrets.versions(rules.stage_path(app, stage))
        found = []
        for name in sorted(set(recorded) | set(stored)):
            meta = recorded.get(name)
            live = stored.get(name)
            found.append({
                "name": name,
                "path": rules.secret_path(app, stage, name),
                "version": live["version"] if live else (meta.version if meta else None),
                "by": meta.by if meta else None,
                "at": live["at"] if live else (meta.at if meta else None),
                "stored": live is not None,
            })
        return {"app": app, "stage": stage, "secrets": found}

    def delete_secret(self, app: str, stage: str, name: str) -> dict[str, Any]:
        rules.check_name("name", name)
        self.stages.get_stage(app, stage)
        recorded = self.store.read_settings(app, stage).secrets
        removed = self.secrets.delete(rules.secret_path(app, stage, name))
        if not removed and name not in recorded:
            raise SecretNotFound(f"stage {named(stage)} of {named(app)} has no secret {named(name)}", field="name")
        self._record(app, stage, lambda secrets: {k: v for k, v in secrets.items() if k != name})
        return {"name": name, "deleted": True}

    def _record(self, app: str, stage: str, change: Any) -> None:
        for _ in range(ATTEMPTS):
            current = self.store.read_settings(app, stage)
            if self.store.write_settings(app, stage, StageSettings(current.values, change(current.secrets), current.version)):
                return
        raise InvalidInput("name", "the stage's secrets kept changing under this request: send it again")

    # -- deploys --

    def parameters(self, app: str, stage: str, template: Any) -> rules.Resolved:
        return deploy_parameters(self.store, app, stage, template, self.parents)

    def configuration(self, app: str, stage: str, template: Any, running: Mapping[str, str] | None) -> dict[str, Any]:
        """The configuration part of a change set: parameter changes (settings old → new), the keys
        the template does not declare (a warning) and the parameters left without a value."""
        resolved = self.parameters(app, stage, template)
        return {
            "changes": rules.configuration_changes(resolved, running),
            "unused": resolved.unused,
            "missing": resolved.missing,
            "error": resolved.failure(),
        }

    def change_set_configuration(self, app: str, stage: str, template: dict[str, Any]) -> dict[str, Any]:
        """Delivery's hook: the configuration part of the change set of ``template`` (a build's packaged
        template) on ``stage``, against the parameters its stack runs with (DescribeStacks: reality,
        not a record)."""
        found = self.stacks.describe(stack_name(app, stage)) if self.stacks is not None else None
        running = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters") or []} if found else None
        return self.configuration(app, stage, template, running)


def effective_settings(store: SettingsStore, app: str, stage: str,
                       inheritance: rules.Inheritance | None) -> rules.Effective:
    own = store.read_settings(app, stage)
    parent = store.read_settings(app, inheritance.parent) if inheritance is not None else None
    return rules.effective(stage, own, parent, inheritance)


def deploy_parameters(store: SettingsStore, app: str, stage: str, template: Any,
                      parents: SettingsParents | None = None) -> rules.Resolved:
    """Every Parameter's value for a deploy of the (packaged) ``template`` to ``stage``: its name,
    its settings, its secrets' paths (never their values), its functions' version keys. A preview
    also gets what it inherits (``parents``): its parent's settings, and its parent's secrets' paths
    unless the parent is the pipeline's last stage (then a declared one is ``missing``, named)."""
    inheritance = parents.settings_inheritance(app, stage) if parents is not None else None
    got = effective_settings(store, app, stage, inheritance)
    return rules.resolve(template, app, stage, got.values, got.secrets)


def _meta_view(meta: SecretMeta) -> dict[str, Any]:
    return {"version": meta.version, "by": meta.by, "at": meta.at}


def _view(app: str, stage: str, current: StageSettings) -> dict[str, Any]:
    return {"app": app, "stage": stage, "values": dict(sorted(current.values.items())),
            "secrets": sorted(current.secrets)}
