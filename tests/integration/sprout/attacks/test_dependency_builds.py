"""Attacks through the dependency builds, on the local cloud with IAM enforced.

The victim is the greeter app (Python requirements, a Node.js lockfile, a layer), built once and
serving on dev. The attacker pushes to their own app only, or holds what a dependency build holds
(DependencyBuildRole's credentials, as if code had run inside a build):

- a requirements file with option lines (``--no-binary :all:`` to build an sdist, ``-r /etc/passwd``
  to read a host file) fails at PlanDependencies naming the file and the line: no dependency build
  starts, no host file is repeated; a dependency build handed such a manifest anyway (PlanDependencies
  bypassed) refuses it itself before pip runs;
- DependencyBuildRole cannot write the cache (``dependencies/…``), only its own output prefix;
- a cached object changed behind Sprout's back (root credentials) is not served: the victim's next
  build fails at Package naming the object, and dev keeps answering with what it ran.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sprout.adapters.dependency_builds import INSTALLER, RULES, builder_digest
from sprout.cli.client import SproutClient
from sprout.codebuild import install_dependencies
from sprout.domain.packaging import plan_dependencies
from sprout.domain.source_tree import MemoryTree
from tests.archives import zip_of
from tests.integration.sprout.conftest import GREETER, AppRepo, registered_app, wait_for

GREETING = "Hello, visitor number 1,234,567"


def project_builds(cloud) -> set[str]:
    codebuild, ids, kwargs = cloud.client("codebuild"), set(), {"projectName": cloud.sprout["DependencyBuildProjectName"]}
    while True:
        page = codebuild.list_builds_for_project(**kwargs)
        ids |= set(page.get("ids", []))
        if not page.get("nextToken"):
            return ids
        kwargs["nextToken"] = page["nextToken"]


@pytest.fixture(scope="module")
def victim(cloud, api, tmp_path_factory) -> AppRepo:
    """The greeter app, built and serving on dev. Its manifests differ from the example's by a comment
    and a description, so that its dependency sets are its own (not shared with another greeter of the
    session: the tamper test changes one)."""
    name = f"victim-{uuid.uuid4().hex[:8]}"
    app = registered_app(cloud, api, name, GREETER, tmp_path_factory.mktemp("victim"))
    for requirements in ("hello/requirements.txt", "formats/requirements.txt"):
        with open(app.work / requirements, "a") as f:
            f.write(f"# {name}\n")
    package_json = app.work / "when" / "package.json"
    package_json.write_text(json.dumps({**json.loads(package_json.read_text()), "description": name}, indent=2))
    app.commit_and_push("The greeter app")
    build = app.wait_build(1, timeout=240)
    assert build["status"] == "SUCCEEDED", build.get("failure")
    return app


@pytest.fixture
def attacker(cloud, api, uid, tmp_path) -> AppRepo:
    """The attacker's own app: a copy of the greeter, which they may push to."""
    return registered_app(cloud, api, f"attacker-{uid}", GREETER, tmp_path)


def still_serving(victim: AppRepo) -> None:
    assert SproutClient(victim.stage_url("dev")).request("GET", "/hello")["greeting"] == GREETING


def role_s3(cloud, logical_id: str):
    """An S3 client with the credentials a dependency build runs with (its service role's session)."""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout")["StackResources"]
    name = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical_id)
    arn = cloud.client("iam").get_role(RoleName=name)["Role"]["Arn"]
    c = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName="AWSCodeBuild-attacker")["Credentials"]
    return cloud.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])


def cached_object(cloud, key: str) -> str:
    """The object the lineage records for ``key``: what Package will use."""
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": f"DEPENDENCIES#{key}"}, "sk": {"S": "DIGEST"}},
        ConsistentRead=True,
    )["Item"]
    return item["object_key"]["S"]


def hello_key(work: Path) -> str:
    """The cache key of the greeter's hello/requirements.txt, as anyone can compute it from public inputs."""
    tree = MemoryTree({p.relative_to(work).as_posix(): p.read_bytes() for p in work.rglob("*")
                       if p.is_file() and ".git" not in p.parts})
    found = plan_dependencies(tree.read("template.yaml"), "template.yaml", tree, builder_digest())
    return next(d.key for d in found if d.manifest == "hello/requirements.txt")


def malicious_zip() -> bytes:
    return zip_of({"humanize/__init__.py": "def intcomma(n):\n    return 'pwned'\n"})


@pytest.mark.parametrize(
    "requirements, line, shown",
    [
        ("humanize==4.9.0\n--no-binary :all:\nsprout-attack-sdist==1.0\n", 2, '"--no-binary :all:"'),
        ("-r /etc/passwd\nhumanize==4.9.0\n", 1, '"-r /etc/passwd"'),
    ],
)
def test_given_a_requirements_file_with_an_option_line_when_pushed_then_the_build_fails_naming_the_line_and_runs_nothing(
    cloud, victim, attacker, requirements, line, shown
):
    # GIVEN the attacker's requirements.txt carries an option line
    (attacker.work / "hello" / "requirements.txt").write_text(requirements)
    before = project_builds(cloud)
    # WHEN pushed
    attacker.commit_and_push("options in the requirements")
    failed = attacker.wait_build(1, stage=None, timeout=120)
    # THEN the build failed at PlanDependencies, naming the file, the line and what it says
    assert failed["status"] == "FAILED"
    assert failed["failure"]["step"] == "PlanDependencies", failed["failure"]
    cause = failed["failure"]["cause"]
    assert f"hello/requirements.txt line {line}: option line {shown} is refused" in cause, cause
    assert "root:" not in cause  # no host file was read
    # AND no dependency build ran: nothing of the app's could execute; the victim still serves
    assert project_builds(cloud) == before
    still_serving(victim)


def test_given_a_dependency_build_handed_an_option_line_when_it_runs_then_it_refuses_before_pip_and_writes_nothing(cloud, victim):
    # GIVEN a dependency build's source with a hostile manifest, as if PlanDependencies had let it through
    bucket, s3 = cloud.sprout["ArtifactBucketName"], cloud.client("s3")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("install_dependencies.py", INSTALLER.read_bytes())
        archive.writestr("manifests.py", RULES.read_bytes())
        archive.writestr("build.json", json.dumps({"method": "pip", "runtime": "python3.13", "architecture": "x86_64",
                                                   "manifest": "hello/requirements.txt"}))
        archive.writestr("manifest/requirements.txt", "humanize==4.9.0\n-r /etc/passwd\n")
    s3.put_object(Bucket=bucket, Key="dependency-sources/attack.zip", Body=buffer.getvalue())
    # WHEN the project builds it, with its service role (IAM enforced), writing to its own prefix
    codebuild = cloud.client("codebuild")
    build_id = codebuild.start_build(
        projectName=cloud.sprout["DependencyBuildProjectName"], sourceTypeOverride="S3",
        sourceLocationOverride=f"{bucket}/dependency-sources/attack.zip",
        artifactsOverride={"type": "S3", "location": bucket, "path": "dependency-builds/attack", "name": "out.zip",
                           "namespaceType": "NONE", "packaging": "ZIP"},
    )["build"]["id"]

    def ended() -> dict | None:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        return build if build["buildStatus"] != "IN_PROGRESS" else None

    done = wait_for("the dependency build", ended, timeout=120)
    # THEN it failed, its installer's line names the file and the line, and it wrote no output
    assert done["buildStatus"] == "FAILED"
    def log_events() -> list:  # the build's log lines may arrive just after it ends
        return cloud.client("logs").filter_log_events(
            logGroupName=done["logs"]["groupName"], logStreamNames=[done["logs"]["streamName"]]
        )["events"]

    def error_lines() -> list:
        return [e["message"] for e in log_events() if e["message"].startswith("SPROUT-DEPENDENCY-ERROR")]

    said = wait_for("the installer's error line in the build's log", error_lines, timeout=30)
    events = log_events()
    assert said and 'hello/requirements.txt line 2: option line \\"-r /etc/passwd\\" is refused' in said[0], said
    assert not any(e["message"].startswith("$ ") for e in events)  # pip was never started
    assert not any("root:" in e["message"] for e in events)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="dependency-builds/attack/")
    still_serving(victim)


def sdist(folder: Path, marker: Path) -> None:
    """A package on offer as an sdist only, whose setup.py leaves ``marker`` when anything runs it."""
    source = folder / "src" / "sprout_attack_sdist-1.0"
    source.mkdir(parents=True)
    (source / "setup.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('setup.py ran')\n"
        "from setuptools import setup\nsetup(name='sprout-attack-sdist', version='1.0')\n"
    )
    (source / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: sprout-attack-sdist\nVersion: 1.0\n")
    with tarfile.open(folder / "index" / "sprout_attack_sdist-1.0.tar.gz", "w:gz") as archive:
        archive.add(source, arcname=source.name)


def test_given_a_package_offered_only_as_an_sdist_when_the_installers_pip_resolves_it_then_its_setup_py_never_runs(tmp_path):
    # GIVEN an index (a local folder, offline) that has the requirement only as an sdist whose setup.py leaves a marker
    (tmp_path / "index").mkdir()
    marker = tmp_path / "setup-py-ran"
    sdist(tmp_path, marker)
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "requirements.txt").write_text("sprout-attack-sdist==1.0\n")
    (tmp_path / "out").mkdir()
    # WHEN the installer's own pip command runs against that index
    spec = {"runtime": "python3.13", "architecture": "x86_64"}
    command = install_dependencies._pip(spec, tmp_path / "manifest", tmp_path / "out")
    done = subprocess.run([*command, "--no-index", "--find-links", str(tmp_path / "index")], cwd=tmp_path / "out",
                          capture_output=True, text=True, timeout=120)
    # THEN pip finds no wheel and fails, and the sdist's setup.py never ran
    assert done.returncode != 0
    assert "sprout-attack-sdist" in done.stderr, done.stderr
    assert not marker.exists()
    # AND the one thing the sentinel proves: the same sdist, allowed to build, does run it
    subprocess.run([*command[:3], "download", "--no-deps", "--no-binary", ":all:", "--no-index", "--find-links",
                    str(tmp_path / "index"), "--no-build-isolation", "-d", str(tmp_path / "dl"), "sprout-attack-sdist==1.0"],
                   capture_output=True, text=True, timeout=120)
    assert marker.exists()


def test_given_a_dependency_builds_credentials_when_it_writes_the_victims_cache_entry_then_access_is_denied(cloud, victim):
    # GIVEN the victim's cache key, computed from its public inputs, and DependencyBuildRole's credentials
    key = hello_key(victim.work)
    bucket = cloud.sprout["ArtifactBucketName"]
    stored = cached_object(cloud, key)
    s3 = role_s3(cloud, "DependencyBuildRole")
    # WHEN it overwrites the cache entry, under either name THEN S3 denies it
    for target in (stored, f"dependencies/{key}.zip"):
        with pytest.raises(ClientError) as denied:
            s3.put_object(Bucket=bucket, Key=target, Body=malicious_zip())
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert "s3:PutObject" in denied.value.response["Error"]["Message"]
    # AND what the role may write, it can: its own output prefix (the credentials work)
    s3.put_object(Bucket=bucket, Key="dependency-builds/sentinel/out.zip", Body=b"sentinel")
    # AND the cache entry is the one Sprout stored; the victim still serves
    assert cached_object(cloud, key) == stored
    still_serving(victim)


def test_given_a_cached_object_tampered_with_when_the_victim_pushes_again_then_package_fails_naming_it(cloud, victim):
    # GIVEN someone with the bucket's root credentials replaced the victim's cached dependencies
    key = hello_key(victim.work)
    bucket = cloud.sprout["ArtifactBucketName"]
    stored, s3 = cached_object(cloud, key), cloud.client("s3")
    original = s3.get_object(Bucket=bucket, Key=stored)["Body"].read()
    s3.put_object(Bucket=bucket, Key=stored, Body=malicious_zip())
    number = max(b["number"] for b in victim.builds()) + 1
    try:
        # WHEN the victim pushes a change that touches no code (its dependencies come from the cache)
        (victim.work / "hello" / "app.py").write_text((victim.work / "hello" / "app.py").read_text() + "# a comment\n")
        victim.commit_and_push("A comment")
        failed = victim.wait_build(number, stage=None, timeout=180)
    finally:  # the session's other greeter builds share the cache
        s3.put_object(Bucket=bucket, Key=stored, Body=original)
    # THEN the build failed at Package, naming the object, and nothing was deployed
    assert failed["status"] == "FAILED"
    assert failed["failure"]["step"] == "Package", failed["failure"]
    assert failed["failure"]["error"] == "CacheIntegrityError"
    assert f"cached object {stored} has sha256" in failed["failure"]["cause"], failed["failure"]
    assert not failed.get("deployedTo")
    # AND dev still answers with the dependencies it was built with
    still_serving(victim)
