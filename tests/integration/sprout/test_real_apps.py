"""Real apps through Sprout, unchanged (tests/fixtures/real-apps): shaped like AWS's SAM starters
and the serverless patterns a new user brings. Each is pushed to its repository *before* it is
registered (registering builds the branch head), reaches dev, answers there, is promoted to prod,
and rolled back; the apps share the module and are pushed in parallel."""

from __future__ import annotations

import io
import json
import re
import shutil
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import DEV_AND_PROD, AppRepo, wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "real-apps"
APPS = ("node-no-lockfile", "typescript-esbuild", "s3-notifications", "stepfunctions-sdk", "fixed-names")


@dataclass
class RealApp:
    repo: AppRepo
    registered: dict  # POST /apps's answer
    head: str  # the commit pushed before registering
    first: dict  # build 1, settled on dev

    @property
    def name(self) -> str:
        return self.repo.name

    def outputs(self, stage: str) -> dict:
        stack = self.repo.cloud.client("cloudformation").describe_stacks(StackName=f"{self.name}-{stage}")["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def get(self, stage: str, output: str) -> dict:
        return SproutClient(self.outputs(stage)[output].rstrip("/"), timeout=30).request("GET", "")

    def change(self, path: str, old: str, new: str, message: str) -> dict:
        """Edit one file, push it, and the build it makes once settled on dev."""
        file = self.repo.work / path
        file.write_text(file.read_text().replace(old, new))
        before = max(b["number"] for b in self.repo.builds())
        commit = self.repo.commit_and_push(message)
        try:
            return self.repo.wait_build(before + 1, "dev", timeout=300)
        except Exception as e:  # say what the push's build executions did
            runs = [(x["status"], x.get("error"), x.get("cause", "")[:300]) for x in self.repo.executions_for(commit)]
            raise AssertionError(f"{self.name}: build {before + 1} of {commit[:12]}: {e}; executions: {runs}") from e

    def promote(self, number: int, stage: str = "prod") -> dict:
        api = self.repo.api
        cs = api.request("GET", f"/apps/{self.name}/stages/{stage}/changeset", query={"build": number})
        api.request("POST", f"/apps/{self.name}/stages/{stage}/promote", {"build": number, "changesetId": cs["changesetId"]})
        return self.repo.wait_build(number, stage, timeout=180)

    def rollback(self, stage: str) -> dict:
        api = self.repo.api
        started = api.request("POST", f"/apps/{self.name}/stages/{stage}/rollback", {})
        path = f"/apps/{self.name}/stages/{stage}/deployments/{started['deployment']}"
        done = wait_for(f"rollback of {self.name}/{stage}",
                        lambda: (lambda d: d if d["status"] != "IN_PROGRESS" else None)(api.request("GET", path)),
                        timeout=120)
        wait_for(f"{self.name}/{stage} let go", lambda: not api.request("GET", f"/apps/{self.name}/stages/{stage}")["lock"])
        return done


def _push_then_register(cloud, api, work_root: Path, kind: str, suffix: str) -> tuple[str, AppRepo, str, dict]:
    name = f"{kind}-{suffix}"
    clone_url = cloud.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    work = shutil.copytree(FIXTURES / kind, work_root / name)
    repo = AppRepo(name=name, clone_url=clone_url, work=work, api=api, cloud=cloud)
    repo.git("init", "-q", "-b", "main")
    head = repo.commit_and_push(f"{kind}: as the starter made it")
    registered = api.request("POST", "/apps", {"name": name, "repository": name, "stages": list(DEV_AND_PROD)})
    return kind, repo, head, registered


@pytest.fixture(scope="module")
def real_apps(cloud, api, tmp_path_factory) -> dict[str, RealApp]:
    """Every fixture app pushed to main, then registered (dev follows main, prod promote-only);
    build 1 of each settled on dev."""
    suffix, root = uuid.uuid4().hex[:6], tmp_path_factory.mktemp("real-apps")
    with ThreadPoolExecutor(len(APPS)) as pool:
        pushed = list(pool.map(lambda kind: _push_then_register(cloud, api, root, kind, suffix), APPS))
    apps = {}
    for kind, repo, head, registered in pushed:
        number = (registered.get("builds") or [{}])[0].get("build", 1)
        apps[kind] = RealApp(repo, registered, head, repo.wait_build(number, "dev", timeout=300))
    return apps


# What each app's second commit changes (a file, the text before and after): the flows below run
# in parallel (promote build 1 to prod, push the change), and each test then reads what happened.
SECOND = {
    "node-no-lockfile": ("hello-world/app.mjs", "'v1'", "'v2'"),
    "typescript-esbuild": ("hello-world/app.ts", "'v1'", "'v2'"),
    "s3-notifications": ("src/app.py", '"v1"', '"v2"'),
    "stepfunctions-sdk": ("functions/shape.py", '"v1"', '"v2"'),
}


@pytest.fixture(scope="module")
def promoted_and_changed(real_apps) -> dict[str, tuple[dict, dict]]:
    """For each app of SECOND, in parallel: build 1 promoted to prod (settled), then its second
    commit pushed (node-no-lockfile's with the lockfile build 1 resolved) and settled on dev."""
    def flow(kind: str) -> tuple[str, tuple[dict, dict]]:
        app = real_apps[kind]
        promoted = app.promote(1)
        if kind == "node-no-lockfile":
            lockfile = app.repo.api.request("GET", f"/apps/{app.name}/builds/1/lockfile")["content"]
            (app.repo.work / "hello-world" / "package-lock.json").write_text(lockfile)
        return kind, (promoted, app.change(*SECOND[kind], f"{kind}: v2"))

    with ThreadPoolExecutor(len(SECOND)) as pool:
        return dict(pool.map(flow, SECOND))


def _succeeded(build: dict, stage: str = "dev") -> None:
    assert build["status"] == "SUCCEEDED", build.get("failure")
    assert build["deployedTo"][stage]["status"] == "SUCCEEDED", build["deployedTo"][stage]


def test_given_apps_pushed_before_they_were_registered_then_registering_built_their_heads_onto_dev(real_apps):
    for kind, app in real_apps.items():
        # GIVEN main pushed before the app was registered WHEN registered
        # THEN the answer names the build of main's head, and it reached dev
        assert [(b["branch"], b["commit"], b["build"]) for b in app.registered["builds"]] == [("main", app.head, 1)], kind
        _succeeded(app.first)


def test_given_a_build_that_does_not_exist_when_waited_for_then_it_says_so_at_once(real_apps):
    app = real_apps["fixed-names"]
    # GIVEN an app whose newest build is 1 WHEN build 7 is waited for THEN it fails at once naming it
    with pytest.raises(Exception, match=f"no build 7 of app {app.name}"):
        app.repo.api.wait_for_build(app.name, 7, "dev", timeout=600)


def test_given_node_without_a_lockfile_then_npm_resolves_it_the_lockfile_is_kept_and_once_committed_it_is_cached(
    real_apps, promoted_and_changed, cloud
):
    app = real_apps["node-no-lockfile"]
    promoted, second = promoted_and_changed["node-no-lockfile"]
    # GIVEN the Node.js starter (package.json with ms, no lockfile) built
    # THEN the build says it resolved without a lockfile, and keeps the lockfile to commit
    [resolved] = app.first["resolvedWithoutLockfile"]
    assert (resolved["manifest"], resolved["lockfile"]) == ("hello-world/package.json", "hello-world/package-lock.json")
    lockfile = app.repo.api.request("GET", f"/apps/{app.name}/builds/1/lockfile")["content"]
    assert "node_modules/ms" in json.loads(lockfile)["packages"]
    # AND promoted, prod answers with ms
    _succeeded(promoted, "prod")
    assert app.get("prod", "HelloWorldApi") == {"message": "hello world", "version": "v1", "inAMinute": "1m"}
    # WHEN that lockfile is committed with a code change THEN build 2 installs from the cache entry
    # build 1 resolved (no dependency build ran for its key), and dev answers the change
    _succeeded(second)
    assert not second["resolvedWithoutLockfile"]
    sources = [b["source"]["location"] for b in _project_builds(cloud)]
    assert not any(s.endswith(f"dependency-sources/{resolved['cacheKey']}.zip") for s in sources), sources
    assert app.get("dev", "HelloWorldApi")["version"] == "v2"
    # WHEN dev is rolled back THEN it answers from build 1 again
    assert app.rollback("dev")["build"] == 1
    assert app.get("dev", "HelloWorldApi") == {"message": "hello world", "version": "v1", "inAMinute": "1m"}


def test_given_typescript_with_build_method_esbuild_then_the_bundle_is_deployed_and_answers(
    real_apps, promoted_and_changed, cloud
):
    app = real_apps["typescript-esbuild"]
    promoted, second = promoted_and_changed["typescript-esbuild"]
    # GIVEN the TypeScript starter (app.ts importing ./greeting, BuildMethod esbuild) built
    # THEN the function's artifact is esbuild's output alone: no .ts, no node_modules
    [function] = app.first["functions"]
    body = cloud.client("s3").get_object(Bucket=cloud.sprout["ArtifactBucketName"], Key=function["s3Key"])["Body"].read()
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["app.js", "app.js.map"]
    # AND promoted, prod answers from the bundle; changed, dev answers the change; rolled back, the old code
    _succeeded(promoted, "prod")
    assert app.get("prod", "HelloWorldApi") == {"message": "hello world", "version": "v1", "path": "/hello"}
    _succeeded(second)
    assert app.get("dev", "HelloWorldApi")["version"] == "v2"
    assert app.rollback("dev")["build"] == 1
    assert app.get("dev", "HelloWorldApi") == {"message": "hello world", "version": "v1", "path": "/hello"}


def _uploaded(app: RealApp, stage: str, key: str) -> dict:
    outputs = app.outputs(stage)
    app.repo.cloud.client("s3").put_object(Bucket=outputs["BucketName"], Key=key, Body=b"an upload")
    table = app.repo.cloud.client("dynamodb")
    return wait_for(f"{key} recorded on {stage}",
                    lambda: table.get_item(TableName=outputs["TableName"], Key={"key": {"S": key}}).get("Item"))


def test_given_the_s3_notification_pattern_then_an_upload_is_processed_on_each_stage(real_apps, promoted_and_changed):
    app = real_apps["s3-notifications"]
    promoted, second = promoted_and_changed["s3-notifications"]
    # GIVEN the bucket → function → table pattern promoted: prod has its own bucket (named per stage)
    _succeeded(promoted, "prod")
    assert app.outputs("prod")["BucketName"] != app.outputs("dev")["BucketName"]
    # WHEN an object is uploaded THEN it is recorded, on prod by build 1, on dev by build 2
    assert _uploaded(app, "prod", "a.txt")["version"] == {"S": "v1"}
    _succeeded(second)
    assert _uploaded(app, "dev", "b.txt")["version"] == {"S": "v2"}
    # WHEN dev is rolled back THEN it records with the old code
    assert app.rollback("dev")["build"] == 1
    assert _uploaded(app, "dev", "c.txt")["version"] == {"S": "v1"}


def _ordered(app: RealApp, stage: str, order: str) -> dict:
    sfn = app.repo.cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=app.outputs(stage)["StateMachineArn"], input=json.dumps({"id": order}))["executionArn"]
    done = wait_for(f"order {order} on {stage}",
                    lambda: (lambda d: d if d["status"] != "RUNNING" else None)(sfn.describe_execution(executionArn=arn)))
    assert done["status"] == "SUCCEEDED", done
    return json.loads(done["output"])


def test_given_a_state_machine_with_an_sdk_integration_then_it_runs_on_each_stage(real_apps, promoted_and_changed):
    app = real_apps["stepfunctions-sdk"]
    promoted, second = promoted_and_changed["stepfunctions-sdk"]
    # GIVEN a state machine writing to DynamoDB through aws-sdk:dynamodb:putItem, promoted WHEN run on prod
    _succeeded(promoted, "prod")
    assert _ordered(app, "prod", "1") == {"id": "1", "status": "accepted-v1"}
    # THEN the item is in prod's table
    item = app.repo.cloud.client("dynamodb").get_item(TableName=app.outputs("prod")["TableName"], Key={"id": {"S": "1"}})
    assert item["Item"]["status"] == {"S": "accepted-v1"}
    # AND dev runs the change; rolled back, the old code
    _succeeded(second)
    assert _ordered(app, "dev", "2")["status"] == "accepted-v2"
    assert app.rollback("dev")["build"] == 1
    assert _ordered(app, "dev", "3")["status"] == "accepted-v1"


def test_given_names_fixed_for_every_stage_then_the_build_lists_them_and_prods_change_set_marks_the_collisions(real_apps):
    app = real_apps["fixed-names"]
    api = app.repo.api
    # GIVEN a table and a log group named the same for every stage (the function is named per stage)
    assert app.get("dev", "OrdersApi") == {"orders": 0, "version": "v1"}
    # THEN the build lists them
    fixed = {(n["logicalId"], n["property"], n["name"]) for n in app.first["fixedNames"]}
    assert fixed == {("OrdersTable", "TableName", "real-apps-fixed-orders"),
                     ("OrdersLogGroup", "LogGroupName", json.dumps({"Fn::Sub": "/real-apps/${AWS::Region}/orders"}))}
    # WHEN prod's change set is read THEN each collides with dev, and a confirm is required
    cs = api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": 1})
    assert {(c["logicalId"], c["stage"]) for c in cs["collisions"]} == {("OrdersTable", "dev"), ("OrdersLogGroup", "dev")}
    assert cs["confirmRequired"]
    # AND a promote without the confirm is refused with the change set
    with pytest.raises(ApiError) as refused:
        api.request("POST", f"/apps/{app.name}/stages/prod/promote", {"build": 1})
    assert refused.value.status == 409 and "names another stage holds" in str(refused.value.body)
    # WHEN confirmed anyway THEN prod fails on the name dev holds, as the change set said
    failed = app.promote(1)
    assert failed["deployedTo"]["prod"]["status"] == "FAILED"
    assert re.search(r"real-apps-fixed-orders|/real-apps/", failed["deployedTo"]["prod"]["error"] or ""), failed
    # WHEN the names are made per stage, as the README says (and prod's failed first stack deleted,
    # as Sprout asks) THEN nothing collides and prod deploys
    _delete_failed_stack(app, "prod")
    template = app.repo.work / "template.yaml"
    template.write_text(template.read_text().replace("TableName: real-apps-fixed-orders", "TableName: !Sub ${AWS::StackName}-orders")
                        .replace("/real-apps/${AWS::Region}/orders", "/real-apps/${AWS::StackName}/orders"))
    second = app.change("src/app.py", '"v1"', '"v2"', "Name the table and log group per stage")
    _succeeded(second)
    assert second["fixedNames"] == []
    cs = api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": second["number"]})
    assert cs["collisions"] == []
    _succeeded(app.promote(second["number"]), "prod")
    assert app.get("prod", "OrdersApi") == {"orders": 0, "version": "v2"}


def _delete_failed_stack(app: RealApp, stage: str) -> None:
    cfn = app.repo.cloud.client("cloudformation")
    stack = f"{app.name}-{stage}"
    stacks = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]
    if any(s["StackStatus"] == "ROLLBACK_COMPLETE" for s in stacks):  # (Sprout may have deleted it already)
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def _project_builds(cloud) -> list[dict]:
    codebuild = cloud.client("codebuild")
    ids = codebuild.list_builds_for_project(projectName=cloud.sprout["DependencyBuildProjectName"]).get("ids", [])
    return codebuild.batch_get_builds(ids=ids)["builds"] if ids else []
