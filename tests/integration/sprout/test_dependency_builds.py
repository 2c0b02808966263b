"""Builds resolve dependencies like ``sam build``: pushed, the greeter app's Python requirements,
its Node.js lockfile and its layer's requirements are installed by the dependency build (CodeBuild,
started by the build state machine), cached by what defines them, and dev answers with them."""

from __future__ import annotations

from sprout.cli.client import SproutClient


def project_builds(cloud) -> list[str]:
    project = cloud.sprout["DependencyBuildProjectName"]
    codebuild = cloud.client("codebuild")
    ids: list[str] = []
    kwargs = {"projectName": project}
    while True:
        page = codebuild.list_builds_for_project(**kwargs)
        ids += page.get("ids", [])
        if not page.get("nextToken"):
            return ids
        kwargs["nextToken"] = page["nextToken"]


def test_given_an_app_with_dependencies_when_pushed_then_dev_answers_with_them_and_the_same_source_builds_nothing_new(
    greeter_app, cloud
):
    # GIVEN the greeter app: requirements.txt (humanize; greet's: Powertools), package.json + lockfile (ms),
    # a layer (tabulate)
    before = set(project_builds(cloud))
    # WHEN it is pushed to the branch dev follows
    greeter_app.commit_and_push("The greeter app")
    build = greeter_app.wait_build(1, timeout=240)
    assert build["status"] == "SUCCEEDED", build.get("failure")
    assert build["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    # THEN a dependency build ran for each of its four manifests whose set was not cached yet (an earlier test
    # on this cloud may have cached a set the greeter shares, e.g. Powertools: the cache is keyed by content),
    # and each succeeded
    codebuild = cloud.client("codebuild")
    ran = [b for b in codebuild.batch_get_builds(ids=sorted(set(project_builds(cloud)) - before))["builds"]]
    assert len(ran) <= 4 and all(b["buildStatus"] == "SUCCEEDED" for b in ran), ran
    # AND dev answers through its API with the installed packages: the function's, the layer's, npm's
    dev = SproutClient(greeter_app.stage_url("dev"))
    hello = dev.request("GET", "/hello")
    assert hello["greeting"] == "Hello, visitor number 1,234,567"
    assert hello["table"] == "visitors  1234567"
    assert dev.request("GET", "/when") == {"inAMinute": "1m", "oneDayInMs": 86400000}

    # WHEN the same source is pushed again (a new commit, the app unchanged)
    (greeter_app.work / "NOTES.md").write_text("a change outside the app's code\n")
    greeter_app.commit_and_push("Notes")
    again = greeter_app.wait_build(2, timeout=240)
    # THEN nothing new was built: no dependency build ran, every function keeps its sha256
    assert again["status"] == "SUCCEEDED", again.get("failure")
    assert set(project_builds(cloud)) - before == {b["id"] for b in ran}
    assert {f["logicalId"]: f["sha256"] for f in again["functions"]} == {
        f["logicalId"]: f["sha256"] for f in build["functions"]
    }
    assert again["deployedTo"]["dev"]["versions"] == build["deployedTo"]["dev"]["versions"]


def test_given_a_requirement_that_cannot_be_installed_when_pushed_then_the_build_fails_naming_package_and_file(
    greeter_app, cloud
):
    # GIVEN a requirement no index has
    (greeter_app.work / "hello" / "requirements.txt").write_text("humanize==4.9.0\nsprout-no-such-package==0.0.1\n")
    # WHEN pushed
    greeter_app.commit_and_push("A requirement that does not exist")
    failed = greeter_app.wait_build(1, stage=None, timeout=240)
    # THEN the build failed at the dependency build, naming the file and the package
    assert failed["status"] == "FAILED"
    assert failed["failure"]["step"] == "BuildDependencies"
    cause = failed["failure"]["cause"]
    assert "hello/requirements.txt" in cause and "sprout-no-such-package==0.0.1" in cause, cause
    # AND nothing was deployed, and nothing is left open
    assert not failed.get("deployedTo")
