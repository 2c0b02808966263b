"""Per-stage settings and secrets: what a name and a value may be, how a merge applies, and which
value every parameter of an app's template gets at a deploy.

- **Settings** are not secret: ``NAME -> value`` per stage, passed to the template's Parameter of
  that name at every deploy (SAM's ``--parameter-overrides`` per environment). A merge sets the
  keys it names and removes those it sets to ``None``.
- **Secrets** live in SSM Parameter Store as ``SecureString`` at ``/sprout/<app>/<stage>/<name>``;
  a Parameter named like a secret receives that **path**, never the value, and the function reads
  the value at run time. Nothing here ever holds a secret's value except ``check_secret_value``,
  which only looks at it (and never echoes it).

Names are CloudFormation parameter names (ASCII letters and digits, at most 255), since each one
is matched to a template Parameter; ``Stage`` is Sprout's own (the stage's name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sprout.domain.errors import InvalidInput, named

NAME = re.compile(r"[A-Za-z0-9]{1,255}")
RESERVED = ("Stage",)  # the parameter Sprout fills with the stage's name
MAX_SETTING = 4096  # CloudFormation's limit on one parameter value
MAX_SECRET_BYTES = 4096  # Parameter Store's Standard tier: larger values are refused (no Advanced tier)
MAX_SETTINGS = 200  # CloudFormation's limit on a template's parameters
PREFIX = "/sprout"
MASKED = "****"  # as CloudFormation shows a NoEcho parameter


@dataclass(frozen=True)
class SecretMeta:
    """What Sprout records of a secret: never its value."""

    version: int
    by: str
    at: str


@dataclass(frozen=True)
class StageSettings:
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, SecretMeta] = field(default_factory=dict)
    version: int | None = None  # the record's version (None: never written)


def secret_path(app: str, stage: str, name: str) -> str:
    """Where a stage's secret lives in Parameter Store (and what its template parameter receives)."""
    return f"{PREFIX}/{app}/{stage}/{name}"


def stage_path(app: str, stage: str) -> str:
    return f"{PREFIX}/{app}/{stage}"


def check_name(field_name: str, name: Any) -> str:
    """A setting's or secret's name: a CloudFormation parameter name, not Sprout's own."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput(field_name, f"{named(name)} is not a valid name: use 1 to 255 ASCII letters and "
                                       "digits (a template Parameter's name)")
    if name in RESERVED:
        raise InvalidInput(field_name, f"{name} is Sprout's own parameter (the stage's name)")
    return name


def check_setting_value(key: str, value: Any) -> str:
    """A setting's value: a non-empty string of one line, at most MAX_SETTING characters."""
    where = f"values.{key}"
    if not isinstance(value, str):
        raise InvalidInput(where, "must be a string (or null to remove the key)")
    if not value:
        raise InvalidInput(where, "must not be empty (null removes the key)")
    if len(value) > MAX_SETTING:
        raise InvalidInput(where, f"is longer than {MAX_SETTING} characters (a CloudFormation parameter's limit)")
    if "\n" in value or "\r" in value:
        raise InvalidInput(where, "must be one line (no newline characters)")
    return value


def check_secret_value(value: Any) -> str:
    """A secret's value: a non-empty one-line string of at most 4 KB in UTF-8. Errors never echo it."""
    if not isinstance(value, str):
        raise InvalidInput("value", "must be a string")
    if not value:
        raise InvalidInput("value", "must not be empty")
    if "\n" in value or "\r" in value:
        raise InvalidInput("value", "must be one line (no newline characters)")
    if len(value.encode("utf-8")) > MAX_SECRET_BYTES:
        raise InvalidInput("value", f"is larger than {MAX_SECRET_BYTES} bytes (Parameter Store's Standard tier; "
                                    "Sprout does not use the Advanced tier)")
    return value


def merge(current: Mapping[str, str], changes: Any, secrets: Iterable[str]) -> dict[str, str]:
    """``current`` with ``changes`` applied (``None`` removes a key), every change checked first:
    a bad key or value refuses the whole merge, naming it."""
    if not isinstance(changes, dict):
        raise InvalidInput("values", "must be an object of NAME: value (null removes a key)")
    taken = set(secrets)
    merged = dict(current)
    for key, value in changes.items():
        check_name(f"values.{named(key)}", key)
        if key in taken:
            raise InvalidInput(f"values.{key}", "is the name of a secret of this stage: a name is a setting or a secret")
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = check_setting_value(key, value)
    if len(merged) > MAX_SETTINGS:
        raise InvalidInput("values", f"a stage holds at most {MAX_SETTINGS} settings")
    return merged


@dataclass(frozen=True)
class Resolved:
    """What a deploy passes to the stage's stack: ``parameters`` (name -> value; a secret's is its
    path), the settings and secrets the template does not declare (``unused``: a warning), the
    declared parameters with neither a default nor a value (``missing``: the deploy fails)."""

    parameters: dict[str, str]
    sources: dict[str, str]  # name -> "stage" | "setting" | "secret"
    unused: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    no_echo: frozenset[str] = frozenset()

    def failure(self) -> str | None:
        if not self.missing:
            return None
        names = ", ".join(self.missing)
        return (f"template parameter{'s' if len(self.missing) > 1 else ''} {names} "
                f"ha{'ve' if len(self.missing) > 1 else 's'} no Default and no value: set "
                f"{'them' if len(self.missing) > 1 else 'it'} (PUT .../settings or .../secrets/NAME)")


@dataclass(frozen=True)
class Inheritance:
    """Where a preview's settings come from besides its own: the stage ``parent`` (the app's previews'
    ``inheritFrom``), and whether its secrets come too (``secrets``: False when the parent is the
    last stage of the pipeline — prod's secrets never reach a preview)."""

    parent: str
    secrets: bool


@dataclass(frozen=True)
class Effective:
    """The settings a deploy of a stage uses: ``values``, and ``secrets`` as name -> the stage whose
    Parameter Store path holds it (a preview's inherited secret stays at its parent's path)."""

    values: dict[str, str]
    secrets: dict[str, str]
    inherited: dict[str, str] = field(default_factory=dict)  # name -> the parent it came from


def effective(stage: str, own: StageSettings, parent: StageSettings | None = None,
              inheritance: Inheritance | None = None) -> Effective:
    """A stage's own settings and secrets, over those it inherits: a key of its own (a setting or a
    secret) always wins; a parent's secret is inherited only when ``inheritance.secrets``."""
    values = dict(own.values)
    secrets = {name: stage for name in own.secrets}
    inherited: dict[str, str] = {}
    if parent is not None and inheritance is not None:
        mine = set(values) | set(secrets)
        for name, value in parent.values.items():
            if name not in mine:
                values[name], inherited[name] = value, inheritance.parent
        if inheritance.secrets:
            for name in parent.secrets:
                if name not in mine:
                    secrets[name], inherited[name] = inheritance.parent, inheritance.parent
    return Effective(values, secrets, inherited)


def resolve(template: Any, app: str, stage: str, values: Mapping[str, str], secrets: Iterable[str] | Mapping[str, str]) -> Resolved:
    """The value of every Parameter the (packaged) ``template`` declares, from the stage's settings
    and secrets (names, or name -> the stage whose path holds it: an inherited secret), and its
    functions' version keys."""
    template = template if isinstance(template, dict) else None
    declared = (template or {}).get("Parameters")
    declared = declared if isinstance(declared, dict) else {}
    owners = dict(secrets) if isinstance(secrets, Mapping) else {name: stage for name in secrets}
    secret_names = set(owners)
    parameters: dict[str, str] = {}
    sources: dict[str, str] = {}
    missing: set[str] = set()
    for name, spec in declared.items():
        if name.startswith(VERSION_PARAMETER) and isinstance(spec, dict) and "Default" in spec:
            continue  # set below, from the template
        if name in RESERVED:
            parameters[name], sources[name] = stage, "stage"
        elif name in secret_names:
            parameters[name], sources[name] = secret_path(app, owners[name], name), "secret"
        elif name in values:
            parameters[name], sources[name] = values[name], "setting"
        elif not (isinstance(spec, dict) and "Default" in spec):
            missing.add(name)
    if template is not None:
        for name, key in version_keys(template, parameters).items():
            parameters[name], sources[name] = key, "version"
    no_echo = frozenset(n for n, spec in declared.items() if isinstance(spec, dict) and _truthy(spec.get("NoEcho")))
    unused = sorted((set(values) | secret_names) - set(declared))
    return Resolved(parameters, sources, unused, sorted(missing), no_echo)


def configuration_changes(resolved: Resolved, running: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """The parameters a deploy changes against those the stack runs with (``running``: the stack's
    parameters, None when there is no stack): ``{key, source, before, after}``; NoEcho values masked.
    A parameter the deploy leaves to its default shows ``after: None``."""
    running = dict(running or {})
    changes = []
    for key in sorted(set(resolved.parameters) | set(running)):
        before, after = running.get(key), resolved.parameters.get(key)
        if before == after or resolved.sources.get(key) == "version" or key.startswith(VERSION_PARAMETER):
            continue
        if key in resolved.no_echo:
            before = MASKED if before is not None else None
            after = MASKED if after is not None else None
        changes.append({"key": key, "source": resolved.sources.get(key, "default"), "before": before, "after": after})
    return changes


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# ---- a new version when a function's parameter values change ------------------------------------
# SAM's version of a function (AutoPublishAlias) is named from a hash of its properties *before*
# parameter values are known, so a settings change alone would publish nothing and ``live`` would
# keep the old configuration. Package gives each function ``AutoPublishCodeSha256: !Ref
# SproutVersion<LogicalId>`` (a parameter with Default "": SAM then hashes as before), and each deploy
# passes a key made of the function's properties, those of what it references, and the values of the
# parameters it uses: a function whose values did not change keeps its version.
VERSION_PARAMETER = "SproutVersion"
MAX_PARAMETERS = 200  # CloudFormation's parameters per template


def version_parameter(logical_id: str) -> str:
    return f"{VERSION_PARAMETER}{logical_id}"


def referenced(value: Any) -> set[str]:
    """The names a piece of template refers to: ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` variables."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(target, str):
                    found.add(target.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(text, str):
                    found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{(?!!)([^}]+)\}", text)}
            found |= referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced(inner)
    return found


def version_keys(template: Any, parameters: Mapping[str, str]) -> dict[str, str]:
    """``SproutVersion<LogicalId>`` -> the key of that function's version, for every function whose
    parameter the (packaged) template declares."""
    import hashlib
    import json

    if not isinstance(template, dict):
        return {}
    declared = template.get("Parameters") or {}
    resources = template.get("Resources") or {}
    fn_globals = (template.get("Globals") or {}).get("Function") or {}
    keys = {}
    for logical_id, resource in resources.items():
        name = version_parameter(logical_id)
        if name not in declared or not isinstance(resource, dict):
            continue
        # what a version is made of: code and configuration — not the events that invoke it (an API's
        # CORS change, say, publishes no new version on AWS either)
        own = [{k: v for k, v in props.items() if k != "Events"}
               for props in (fn_globals, resource.get("Properties") or {}) if isinstance(props, dict)]
        refs = referenced(own)
        values = {p: parameters[p] for p in sorted(refs & set(parameters)) if not p.startswith(VERSION_PARAMETER)}
        others = {r: resources[r].get("Properties") for r in sorted(refs & set(resources)) if isinstance(resources[r], dict)}
        text = json.dumps({"function": own, "references": others, "values": values}, sort_keys=True, default=str)
        keys[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return keys


def add_version_parameters(template: dict[str, Any], function_type: str) -> None:
    """Package: each function's ``AutoPublishCodeSha256`` from its ``SproutVersion<LogicalId>``
    parameter (Default "") — for a template that declares parameters, unless it sets its own."""
    declared = template.get("Parameters")
    fn_globals = (template.get("Globals") or {}).get("Function") or {}
    if not isinstance(declared, dict) or not declared or "AutoPublishCodeSha256" in fn_globals:
        return
    functions = {lid: r for lid, r in (template.get("Resources") or {}).items()
                 if isinstance(r, dict) and r.get("Type") == function_type and isinstance(r.get("Properties"), dict)
                 and "AutoPublishCodeSha256" not in r["Properties"]}
    if len(declared) + len(functions) > MAX_PARAMETERS:
        return  # SAM's own hashing then: a settings change alone publishes no new version
    for logical_id, resource in functions.items():
        name = version_parameter(logical_id)
        declared[name] = {"Type": "String", "Default": "",
                          "Description": "Sprout: the key of this function's version (set at each deploy)"}
        resource["Properties"]["AutoPublishCodeSha256"] = {"Ref": name}
