"""Each function's settings (sprout.settings.FUNCTION_SETTINGS) against what template.yaml gives it,
and checked at its cold start: a variable a function needs and template.yaml does not give it fails
here, not in production; a function lacking one fails its import, naming every variable it lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sprout.domain.template import load_template
from sprout.settings import ALWAYS, ENV_NAMES, FUNCTION_SETTINGS, OPTIONAL, MissingSetting, Settings

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
SETTING_OF = {env: name for name, env in ENV_NAMES.items()}


def template() -> dict:
    return load_template((ROOT / "template.yaml").read_text(), "template.yaml")


def functions() -> dict[str, tuple[str, set[str]]]:
    """Logical id -> (its Handler, the variables it is given: Globals' and its own)."""
    t = template()
    given = set(((t.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables") or {})
    found = {}
    for logical_id, resource in t["Resources"].items():
        if resource.get("Type") in FUNCTION_TYPES and str(resource["Properties"].get("Handler", "")).startswith("sprout."):
            props = resource["Properties"]
            found[logical_id] = (props["Handler"], given | set((props.get("Environment") or {}).get("Variables") or {}))
    return found


FUNCTIONS = functions()


def test_every_function_declares_its_settings_once_and_every_declaration_is_a_function():
    """GIVEN template.yaml's functions and FUNCTION_SETTINGS
    WHEN their entry points are compared
    THEN each function's Handler is declared (a new function must say what it needs), no two
    functions share one, no declaration names a function that is gone, and every name is a setting."""
    handlers = [handler for handler, _ in FUNCTIONS.values()]
    assert FUNCTIONS and len(handlers) == len(set(handlers))
    assert sorted(set(handlers) - set(FUNCTION_SETTINGS)) == []
    assert sorted(set(FUNCTION_SETTINGS) - set(handlers)) == []
    assert [n for needs in FUNCTION_SETTINGS.values() for n in needs if n not in ENV_NAMES or n in ALWAYS] == []


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_template_yaml_gives_each_function_the_settings_it_declares_and_no_other(logical_id):
    """GIVEN a function of template.yaml and the settings its entry point declares
    WHEN its Environment.Variables (with the Globals') are read
    THEN every variable it needs is there; and every Sprout setting it is given is one it declares
    (or one a function may run without): a declaration cannot fall behind the template."""
    handler, given = FUNCTIONS[logical_id]
    needed = {ENV_NAMES[n] for n in (*ALWAYS, *FUNCTION_SETTINGS.get(handler, ()))}
    assert sorted(needed - given) == [], f"{logical_id} ({handler}) is not given what it needs"
    undeclared = {v for v in given if v in SETTING_OF and v not in needed and SETTING_OF[v] not in OPTIONAL}
    assert sorted(undeclared) == [], f"{logical_id} is given settings {handler} does not declare"


def test_a_function_lacking_settings_is_told_every_variable_it_lacks_at_once():
    """GIVEN the Package function's entry point and an environment without its two role settings
    WHEN its settings are read
    THEN one MissingSetting names the function and both variables; outside a function (no
    _HANDLER) only the Globals' variables are needed, and a declared one read later still names its variable."""
    env = {"TABLE_NAME": "t", "ARTIFACT_BUCKET": "b", "_HANDLER": "sprout.handlers.tasks.build.package"}
    with pytest.raises(MissingSetting) as missing:
        Settings.for_function(env)
    assert "sprout.handlers.tasks.build.package" in str(missing.value)
    assert "APP_ROLE_BOUNDARY_ARN, APP_ROLE_PATH" in str(missing.value)
    with pytest.raises(MissingSetting) as globals_missing:
        Settings.for_function({"_HANDLER": "sprout.handlers.tasks.build.record_build"})
    assert "TABLE_NAME, ARTIFACT_BUCKET" in str(globals_missing.value)
    outside = Settings.for_function({"TABLE_NAME": "t", "ARTIFACT_BUCKET": "b"})
    with pytest.raises(MissingSetting, match="APP_ROLE_PATH"):
        outside.need("app_role_path")


# One interpreter imports every function's handler module afresh, as Lambda's cold start does
# (its _HANDLER, the environment template.yaml gives it), then again without what it declares.
COLD_STARTS = textwrap.dedent("""
    import importlib, json, os, sys
    cases, base, results = json.loads(sys.argv[1]), dict(os.environ), []
    for case in cases:
        for name in [m for m in sys.modules if m == "sprout" or m.startswith("sprout.")]:
            del sys.modules[name]
        os.environ.clear()
        os.environ.update(base)
        os.environ.update(case["env"])
        module, _, attribute = case["handler"].rpartition(".")
        try:
            handler = getattr(importlib.import_module(module), attribute)
            results.append({"ok": callable(handler)})
        except Exception as e:
            results.append({"error": type(e).__name__, "message": str(e)})
    print(json.dumps(results))
""")


def placeholder(variable: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:stateMachine:{variable.lower()}" if variable.endswith("_ARN") \
        else f"sprout-{variable.lower().replace('_', '-')}"


def test_each_function_imports_with_what_template_yaml_gives_it_and_fails_its_cold_start_without_what_it_declares():
    """GIVEN every function of template.yaml, its handler module imported afresh with its _HANDLER and
    the variables template.yaml gives it (placeholders; no AWS is reached at import)
    WHEN imported so, and again without the settings it declares
    THEN the first import gives the handler; the second fails at import with MissingSetting naming
    every variable taken away (a function that declares none is left out of the second)."""
    cases, expected = [], []
    for logical_id, (handler, given) in sorted(FUNCTIONS.items()):
        env = {v: placeholder(v) for v in given if v in SETTING_OF or v.startswith("POWERTOOLS_")}
        env["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        cases.append({"handler": handler, "env": {**env, "_HANDLER": handler}})
        expected.append((logical_id, None))
        declared = [ENV_NAMES[n] for n in FUNCTION_SETTINGS[handler]]
        if declared:
            cases.append({"handler": handler, "env": {**{k: v for k, v in env.items() if k not in declared},
                                                      "_HANDLER": handler}})
            expected.append((logical_id, declared))
    environ = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_ENDPOINT_URL="http://127.0.0.1:9", POWERTOOLS_TRACE_DISABLED="true",
                   POWERTOOLS_METRICS_NAMESPACE="SproutUnit")
    done = subprocess.run([sys.executable, "-c", COLD_STARTS, json.dumps(cases)], capture_output=True, text=True,
                          cwd=ROOT, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])

    wrong = []
    for (logical_id, declared), result in zip(expected, results, strict=True):
        if declared is None and result != {"ok": True}:
            wrong.append(f"{logical_id} does not import with what template.yaml gives it: {result}")
        elif declared is not None and not (result.get("error") == "MissingSetting"
                                           and all(v in result["message"] for v in declared)):
            wrong.append(f"{logical_id} without {declared} did not fail its cold start naming them: {result}")
    assert wrong == []
