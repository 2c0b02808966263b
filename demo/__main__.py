"""``make demo``: Sprout's story, as far as it is built, end to end and offline on the local cloud.

Every step goes through the interfaces a user has: ``sprout local up``, the ``sprout`` CLI (a
SigV4-signed client of Sprout's API), plain ``git push`` to the local CodeCommit, and signed HTTP
calls to the deployed notes app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from sprout.cli.client import ApiError, SproutClient
from sprout.cli.local import LocalCloudDidNotStart, LocalSprout

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "examples" / "notes"
BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Demo Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
BROKEN_LINE = "    gibberish.what  # the story's broken line: NameError on every call\n"


class DemoFailed(RuntimeError):
    pass


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def show(text: str) -> None:
    print(f"   {text}", flush=True)


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, echo: bool = True) -> str:
    if echo:
        print(f"   $ {' '.join(str(c) for c in cmd)}", flush=True)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DemoFailed(
            f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    if echo and result.stdout.strip():
        for line in result.stdout.rstrip().splitlines():
            print(f"     {line}", flush=True)
    return result.stdout


def git(work: Path, *args: str) -> str:
    return run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV})


def main() -> int:
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="sprout-demo-"))
    work = data_dir / "notes"
    say("1. Start the local cloud with Sprout deployed on it (sprout local up --enforce-iam)")
    try:
        # IAM enforced: every Sprout function runs with its own role's credentials and policies
        cloud = LocalSprout.start(data_dir / "cloud", cwd=ROOT, extra_args=("--enforce-iam",))
    except LocalCloudDidNotStart as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    try:
        show(f"local cloud at {cloud.endpoint}")
        show(f"Sprout's API at {cloud.outputs['ApiUrl']}")
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": cloud.endpoint,
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SPROUT_API_URL": cloud.outputs["ApiUrl"],
        }
        os.environ.update(
            {
                k: env[k]
                for k in (
                    "AWS_ENDPOINT_URL",
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_DEFAULT_REGION",
                    "SPROUT_API_URL",
                )
            }
        )
        sprout_cli = str(BIN / "sprout")
        sprout = SproutClient(cloud.outputs["ApiUrl"])

        say("2. A CodeCommit repository for the notes app, and the app registered with Sprout")
        clone_url = boto3.client("codecommit").create_repository(repositoryName="notes")[
            "repositoryMetadata"
        ]["cloneUrlHttp"]
        show(f"repository notes: {clone_url}")
        run(
            [
                sprout_cli,
                "apps",
                "create",
                "notes",
                "--repository",
                "notes",
                "--stage",
                "dev:main:auto",
                "--stage",
                "prod",
            ],
            env=env,
        )

        say("3. Push the notes app: a build, deployed to dev")
        shutil.copytree(NOTES, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "The notes app")
        pushed = time.monotonic()
        git(work, "push", "-q", clone_url, "main")
        build = sprout.wait_for_build("notes", 1, "dev")
        if build["status"] != "SUCCEEDED" or build["deployedTo"]["dev"]["status"] != "SUCCEEDED":
            raise DemoFailed(f"build 1 did not reach dev: {json.dumps(build, indent=2)}")
        show(f"push → live on dev in {time.monotonic() - pushed:.1f} s")
        run([sprout_cli, "builds", "show", "notes", "1"], env=env)

        dev_url = dict(
            (o["OutputKey"], o["OutputValue"])
            for o in boto3.client("cloudformation").describe_stacks(StackName="notes-dev")["Stacks"][0][
                "Outputs"
            ]
        )["ApiUrl"]
        notes = SproutClient(dev_url)
        say(f"4. Call the notes app on dev ({dev_url}), SigV4-signed like the guide's test client")
        note = notes.request("POST", "/notes", {"content": "hello world", "attachment": "hello.jpg"})
        show(f"POST /notes → 200 {json.dumps(note)}")
        show(
            f"GET /notes/{note['noteId']} → 200 {json.dumps(notes.request('GET', '/notes/' + note['noteId']))}"
        )

        say("5. Push obviously broken code (gibberish.what in create) — it builds and deploys to dev")
        create = work / "functions" / "create" / "create.py"
        source = create.read_text()
        marker = "def main(event, context):\n"
        if marker not in source:
            raise DemoFailed(f"{create} has no `{marker.strip()}` to break")
        create.write_text(source.replace(marker, marker + BROKEN_LINE, 1))
        git(work, "commit", "-q", "-am", "Break create (gibberish.what)")
        git(work, "push", "-q", clone_url, "main")
        build2 = sprout.wait_for_build("notes", 2, "dev")
        changed = [
            f["logicalId"]
            for f in build2["functions"]
            if f["sha256"] != {g["logicalId"]: g["sha256"] for g in build["functions"]}.get(f["logicalId"])
        ]
        show(f"build 2 {build2['status']}; functions whose code changed: {changed}")
        versions_1 = build["deployedTo"]["dev"]["versions"]
        versions_2 = build2["deployedTo"]["dev"]["versions"]
        show(f"live versions on dev: build 1 {versions_1} → build 2 {versions_2}")
        try:
            notes.request("POST", "/notes", {"content": "this will fail"})
            raise DemoFailed("POST /notes on the broken build did not fail")
        except ApiError as e:
            show(f"POST /notes → {e.status} {json.dumps(e.body)}")
            if e.status != 502:
                raise DemoFailed(f"expected 502 from the broken create, got {e.status}") from None

        say("6. A commit whose template is broken fails its build; dev keeps what it ran")
        (work / "template.yaml").write_text(
            (work / "template.yaml").read_text() + "\n  : this is not YAML [\n"
        )
        git(work, "commit", "-q", "-am", "Break the template")
        git(work, "push", "-q", clone_url, "main")
        build3 = sprout.wait_for_build("notes", 3)
        show(f"build 3 {build3['status']}: {json.dumps(build3.get('failure'))}")
        run([sprout_cli, "builds", "list", "notes"], env=env)

        say("7. Revert the bad commits and push again: dev answers 200 again")
        git(work, "revert", "--no-edit", "HEAD", "HEAD~1")
        git(work, "push", "-q", clone_url, "main")
        build4 = sprout.wait_for_build("notes", 4, "dev")
        show(f"build 4 {build4['status']}, live versions on dev {build4['deployedTo']['dev']['versions']}")
        note = notes.request("POST", "/notes", {"content": "fixed", "attachment": None})
        show(f"POST /notes → 200 {json.dumps(note)}")
        run([sprout_cli, "deployments", "list", "notes", "dev"], env=env, echo=False)
        deployments = sprout.request("GET", "/apps/notes/stages/dev/deployments")["deployments"]
        for d in deployments:
            show(
                f"deployment {d['id']}: build {d['build']} {d['kind']} {d['status']} replaces {d['replaces']}"
            )

        say("Not built yet (open issues): promote to prod with a change set, access logs, metrics, rollback")
        say(f"Demo finished in {time.monotonic() - started:.0f} s")
        return 0
    except (DemoFailed, TimeoutError) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1
    finally:
        cloud.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
