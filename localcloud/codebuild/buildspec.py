"""A buildspec (version 0.2) read as CodeBuild reads it: what the phases run and what the build
uploads. Only what the local cloud runs is accepted; anything else is refused by name
(``YAML_FILE_ERROR``, as CodeBuild fails a build whose buildspec it cannot use)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
_PHASE_KEYS = {"commands", "finally", "on-failure", "runtime-versions", "run-as"}
_TOP_KEYS = {"version", "env", "phases", "artifacts", "run-as", "cache", "reports"}
_ENV_KEYS = {"variables", "shell", "parameter-store", "exported-variables", "git-credential-helper"}
_ARTIFACT_KEYS = {"files", "base-directory", "discard-paths", "name", "exclude-paths", "enable-symlinks"}


class BuildspecError(ValueError):
    """The buildspec cannot be used: the build fails with YAML_FILE_ERROR and this message."""


@dataclass
class Phase:
    name: str  # install, pre_build, build, post_build
    commands: list[str] = field(default_factory=list)
    finally_: list[str] = field(default_factory=list)
    on_failure: str = "ABORT"  # ABORT | CONTINUE
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass
class Artifacts:
    files: list[str]
    base_directory: str | None = None
    discard_paths: bool = False
    name: str | None = None
    exclude_paths: list[str] = field(default_factory=list)


@dataclass
class Buildspec:
    variables: dict[str, str]
    parameter_store: dict[str, str]
    phases: dict[str, Phase]
    artifacts: Artifacts | None
    shell: str = "bash"


def looks_inline(text: str) -> bool:
    """Whether a project's ``buildspec`` is the YAML itself rather than a path in the source."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return "\n" in text
    return isinstance(doc, dict)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float, bool)) for v in value):
        raise BuildspecError(f"{where} must be a list of strings")
    return [str(v) for v in value]


def parse(text: str) -> Buildspec:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BuildspecError(f"Invalid YAML in buildspec: {e}") from None
    if not isinstance(doc, dict):
        raise BuildspecError("the buildspec is not a YAML mapping")
    if str(doc.get("version")) != "0.2":
        raise BuildspecError(f"Unsupported buildspec version {doc.get('version')!r} (localcloud runs version 0.2)")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise BuildspecError(f"Unknown buildspec key(s): {', '.join(unknown)}")
    for key in ("run-as", "cache", "reports"):
        if doc.get(key):
            raise BuildspecError(f"buildspec key '{key}' is not supported by localcloud")
    env = doc.get("env") or {}
    if not isinstance(env, dict):
        raise BuildspecError("env must be a mapping")
    unknown = sorted(set(env) - _ENV_KEYS)
    if unknown:
        raise BuildspecError(f"Unknown key(s) in env: {', '.join(unknown)}")
    for key in ("exported-variables", "git-credential-helper"):
        if env.get(key):
            raise BuildspecError(f"env.{key} is not supported by localcloud")
    shell = str(env.get("shell") or "bash")
    if shell not in ("bash", "/bin/sh", "sh"):
        raise BuildspecError(f"env.shell {shell!r} is not supported by localcloud (bash, /bin/sh)")
    variables = {str(k): "" if v is None else str(v) for k, v in (env.get("variables") or {}).items()}
    parameter_store = {str(k): str(v) for k, v in (env.get("parameter-store") or {}).items()}

    phases: dict[str, Phase] = {}
    raw_phases = doc.get("phases") or {}
    if not isinstance(raw_phases, dict):
        raise BuildspecError("phases must be a mapping")
    unknown = sorted(set(raw_phases) - set(PHASES))
    if unknown:
        raise BuildspecError(f"Unknown phase(s): {', '.join(unknown)} (install, pre_build, build, post_build)")
    for name in PHASES:
        raw = raw_phases.get(name)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise BuildspecError(f"phases.{name} must be a mapping")
        unknown = sorted(set(raw) - _PHASE_KEYS)
        if unknown:
            raise BuildspecError(f"Unknown key(s) in phases.{name}: {', '.join(unknown)}")
        if raw.get("run-as"):
            raise BuildspecError(f"phases.{name}.run-as is not supported by localcloud")
        on_failure = str(raw.get("on-failure") or "ABORT").upper()
        if on_failure not in ("ABORT", "CONTINUE"):
            raise BuildspecError(f"phases.{name}.on-failure must be ABORT or CONTINUE, got {on_failure!r}")
        runtimes = raw.get("runtime-versions") or {}
        if runtimes and name != "install":
            raise BuildspecError(f"runtime-versions is only allowed in the install phase, not in {name}")
        if not isinstance(runtimes, dict):
            raise BuildspecError("phases.install.runtime-versions must be a mapping")
        phases[name] = Phase(
            name,
            _strings(raw.get("commands"), f"phases.{name}.commands"),
            _strings(raw.get("finally"), f"phases.{name}.finally"),
            on_failure,
            {str(k): str(v) for k, v in runtimes.items()},
        )

    artifacts = None
    raw_artifacts = doc.get("artifacts")
    if raw_artifacts:
        if not isinstance(raw_artifacts, dict):
            raise BuildspecError("artifacts must be a mapping")
        unknown = sorted(set(raw_artifacts) - _ARTIFACT_KEYS)
        if unknown:
            raise BuildspecError(
                f"artifacts key(s) {', '.join(unknown)} are not supported by localcloud "
                f"({', '.join(sorted(_ARTIFACT_KEYS))})"
            )
        discard = raw_artifacts.get("discard-paths", False)
        artifacts = Artifacts(
            files=_strings(raw_artifacts.get("files"), "artifacts.files"),
            base_directory=str(raw_artifacts["base-directory"]) if raw_artifacts.get("base-directory") else None,
            discard_paths=discard is True or str(discard).lower() == "yes",
            name=str(raw_artifacts["name"]) if raw_artifacts.get("name") else None,
            exclude_paths=_strings(raw_artifacts.get("exclude-paths"), "artifacts.exclude-paths"),
        )
    return Buildspec(variables, parameter_store, phases, artifacts, shell)
