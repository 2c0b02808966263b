"""Bench: a stage's secret read at run time (issue 22). Targets: a rotated secret is answered
within its cache age + 1 s; the function's first ``get_parameter`` on a warm container (a fetch,
not the cache) p50 <= 5 ms locally.

Starts a bare local cloud, stores a SecureString, creates a Python function whose zip carries
Powertools (copied from this environment, as a build would install it) and measures through boto3:
- a fetch: ``parameters.get_parameter(name, decrypt=True, force_fetch=True)`` timed inside the
  function, p50/p95 over --calls warm invokes (and the cached read, for comparison);
- a rotation: PutParameter of a new value, then invokes until the function answers it, with
  ``max_age`` = --max-age seconds.

    .venv/bin/python bench/bench_secrets.py [--calls 100] [--max-age 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_invoke import client, pct  # noqa: E402
from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402

CODE = """
import time
from aws_lambda_powertools.utilities import parameters

def handler(event, context):
    started = time.perf_counter()
    value = parameters.get_parameter(event["name"], decrypt=True, max_age=event["maxAge"], force_fetch=event["force"])
    return {"value": value, "ms": (time.perf_counter() - started) * 1000}
"""
PACKAGES = ("aws_lambda_powertools", "jmespath", "typing_extensions")


def function_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", CODE)
        for name in PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise SystemExit(f"bench_secrets: {name} is not installed here")
            origin = Path(spec.origin)
            if origin.name == "__init__.py":
                for path in origin.parent.rglob("*"):
                    if path.is_file() and "__pycache__" not in path.parts:
                        zf.write(path, str(path.relative_to(origin.parent.parent)))
            else:
                zf.write(origin, origin.name)
    return buf.getvalue()


def run(endpoint: str, calls: int, max_age: int) -> None:
    lam, ssm, iam = client(endpoint, "lambda"), client(endpoint, "ssm"), client(endpoint, "iam")
    role = iam.create_role(RoleName="bench-secrets", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    name = f"/sprout/bench/dev/ApiKey{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=name, Value="first", Type="SecureString")
    lam.create_function(FunctionName="bench-secrets", Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": function_zip()}, Timeout=30, MemorySize=256)

    def read(force: bool) -> dict:
        answer = lam.invoke(FunctionName="bench-secrets",
                            Payload=json.dumps({"name": name, "maxAge": max_age, "force": force}))
        body = json.loads(answer["Payload"].read())
        if "FunctionError" in answer:
            raise SystemExit(f"bench_secrets: the function failed: {body}")
        return body

    read(True)  # the cold start: imports, the first client
    fetched = [read(True)["ms"] for _ in range(calls)]
    cached = [read(False)["ms"] for _ in range(calls)]
    print(f"get_parameter fetch (warm container, decrypt)  p50 {pct(fetched, 50):7.2f} ms  p95 {pct(fetched, 95):7.2f} ms"
          f"  (target p50 <= 5 ms) over {calls}")
    print(f"get_parameter cached                          p50 {pct(cached, 50):7.3f} ms  p95 {pct(cached, 95):7.3f} ms")

    assert read(False)["value"] == "first"
    ssm.put_parameter(Name=name, Value="second", Type="SecureString", Overwrite=True)
    rotated = time.monotonic()
    while read(False)["value"] != "second":
        if time.monotonic() - rotated > max_age + 30:
            raise SystemExit("bench_secrets: the rotated value never came")
        time.sleep(0.05)
    seen = time.monotonic() - rotated
    print(f"rotation seen after {seen:5.2f} s with max_age {max_age} s (target <= {max_age + 1} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--max-age", type=int, default=2)
    args = parse(parser, calls=3, max_age=1)
    with bench_cloud("bench-secrets-", with_sprout=False) as (cloud, _):
        run(cloud.endpoint, args.calls, args.max_age)


if __name__ == "__main__":
    main()
