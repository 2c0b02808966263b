"""Builds of big apps: what would outgrow Step Functions' 256 KB payloads stays in S3, and an app
CloudFormation would refuse (over 500 resources) fails its build naming that limit."""

from __future__ import annotations

from pathlib import Path

from tests.integration.sprout.conftest import registered_app

DEV_BY_HAND = ({"name": "dev", "branch": "main", "autoDeploy": False},)


def write_app(folder: Path, functions: int, env_bytes: int = 0) -> Path:
    """An app of ``functions`` functions sharing one folder (each with a Role, so SAM adds a
    version and an alias to each), each with ``env_bytes`` of environment."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        lines += [
            f"  Fn{i}:", "    Type: AWS::Serverless::Function", "    Properties:", "      CodeUri: src/",
            "      Handler: app.handler", "      Runtime: python3.13",
            "      Role: arn:aws:iam::123456789012:role/shared",
        ]
        if env_bytes:
            lines += ["      Environment:", "        Variables:", f"          PADDING: {'p' * env_bytes}"]
    (folder / "template.yaml").write_text("\n".join(lines) + "\n")
    return folder


def test_given_an_app_of_1000_functions_when_pushed_then_the_build_fails_naming_cloudformations_limit(cloud, api, uid, tmp_path):
    source = write_app(tmp_path / "source", 1000)
    app = registered_app(cloud, api, f"huge-{uid}", source, tmp_path, stages=DEV_BY_HAND)
    app.commit_and_push("1000 functions")
    failed = app.wait_build(1, stage=None, timeout=180)
    # THEN the build failed with a sentence naming the limit, not States.DataLimitExceeded
    assert failed["status"] == "FAILED", failed
    assert failed["failure"]["error"] == "PackagingError", failed["failure"]
    assert "at least 3000 resources" in failed["failure"]["cause"]
    assert "CloudFormation allows at most 500 resources per stack" in failed["failure"]["cause"]


def test_given_an_app_whose_manifest_outgrows_256kb_when_pushed_then_it_builds(cloud, api, uid, tmp_path):
    # GIVEN 160 functions (480 resources once transformed) whose manifest is ~300 KB
    source = write_app(tmp_path / "source", 160, env_bytes=1800)
    app = registered_app(cloud, api, f"wide-{uid}", source, tmp_path, stages=DEV_BY_HAND)
    app.commit_and_push("160 functions")
    built = app.wait_build(1, stage=None, timeout=180)
    # THEN the build succeeded, every function recorded (the manifest went through S3)
    assert built["status"] == "SUCCEEDED", built.get("failure")
    assert len(built["functions"]) == 160
    assert len({f["sha256"] for f in built["functions"]}) == 1  # one shared folder, one artifact
