"""Runtimes say what they are: a function runs on the version its Runtime declares where this
machine has it; otherwise on what the machine has, and the local cloud says so once per function,
in up's output and in the function's first log lines.

Which versions this machine has is what the runner's own search finds (interpreters.python_for /
node_for, run here with the same environment as the cloud): the test checks that the function ran
on exactly that, and that the notice appears if and only if it is not the declared version."""

from __future__ import annotations

import json
import time

import pytest

from localcloud.lambda_runner import interpreters
from tests.archives import zip_of
from tests.integration.localcloud.lambda_helpers import lambda_role

PYTHON = "import platform, sys\n\ndef handler(event, context):\n    return {'version': platform.python_version()}\n"
NODE = "exports.handler = async () => ({ version: process.versions.node });\n"


def invoke(lam, name: str, qualifier: str | None = None) -> dict:
    args = {"Qualifier": qualifier} if qualifier else {}
    answer = lam.invoke(FunctionName=name, Payload=b"{}", **args)
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def messages(cloud, name: str, until, timeout: float = 8.0) -> list[str]:
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}", orderBy="LogStreamName")["logStreams"]
            found = [
                e["message"]
                for s in streams
                for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=s["logStreamName"])["events"]
            ]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.parametrize(
    "runtime, filename, code, handler",
    [
        ("python3.13", "app.py", PYTHON, "app.handler"),
        ("python3.11", "app.py", PYTHON, "app.handler"),
        ("nodejs18.x", "index.js", NODE, "index.handler"),
        ("nodejs20.x", "index.js", NODE, "index.handler"),
    ],
)
def test_given_a_declared_runtime_then_the_function_runs_on_it_or_says_once_what_it_runs_on(
    cloud, uid, runtime, filename, code, handler
):
    lam = cloud.client("lambda")
    name = f"runtime-{runtime.replace('.', '-')}-{uid}"
    # GIVEN what this machine offers for the declared runtime
    expected = interpreters.python_for(runtime) if runtime.startswith("python") else interpreters.node_for(runtime)
    # WHEN a function declaring it is invoked, then a second version of it (another cold start)
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=lambda_role(cloud, "runtime-tests"),
        Handler=handler,
        Code={"ZipFile": zip_of({filename: code})},
    )
    ran = invoke(lam, name)["version"]
    version = lam.publish_version(FunctionName=name)["Version"]
    assert invoke(lam, name, version)["version"] == ran
    # THEN it ran on that interpreter
    assert ran == expected.version
    notice = f"localcloud: function {name} declares {runtime}"
    logged = messages(cloud, name, until=lambda m: sum(x.startswith("REPORT") for x in m) >= 2)
    said = [m for m in logged if m.startswith(notice)]
    printed = [line for line in cloud.output if f"function {name} declares {runtime}" in line]
    if expected.exact:
        # AND, on the declared version, nothing is said
        assert said == [] and printed == []
    else:
        # AND otherwise it is said once: first line of the first log stream, and once in up's output
        assert len(said) == 1 and logged[0] == said[0]
        assert f"it runs on {'Python' if runtime.startswith('python') else 'Node.js'} {ran}" in said[0]
        assert len(printed) == 1
