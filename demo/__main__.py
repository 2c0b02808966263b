"""``make demo``: the seed's story end to end, offline, on the local cloud (``python -m demo``).

Every step goes through the interfaces a user has: ``sprout local up --enforce-iam``, the
``sprout`` and ``aws`` CLIs as subprocesses, plain ``git push`` to the local CodeCommit, and
SigV4-signed HTTP calls to the deployed notes app. It exits 0 only when every step behaved as the
story says, prints a timeline as it goes and writes ``demo-report.html``. ``--keep`` (``make demo
KEEP=1``) leaves the local cloud running afterwards until Ctrl-C, with the lines to reach it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path

from demo import auto_rollback, canary, dependencies, notifications, previews, report, story
from demo.console import BOLD, GREEN, RED, RESET, DemoFailed, Timeline
from sprout.cli.client import ApiError, SproutClient, SproutError
from sprout.cli.local import LocalCloudDidNotStart, LocalSprout

REPORT = story.ROOT / "demo-report.html"
STEPS = [
    ("2", "Push the notes app: build #1 reaches dev; prod's change set, confirmed promote, POST /notes",
     story.first_build_to_prod),
    ("3", "Enable access logs on prod (sprout access-logs enable)", story.access_logs_on),
    ("4", "Push the broken create handler (gibberish.what): build #2 reaches dev; promote it to prod",
     story.broken_build_to_prod),
    ("5", "Call prod as the guide does", story.prod_fails),
    ("6", "What prod's access logs, API metrics, create's logs and Lambda metrics show",
     story.monitoring_shows_it),
    ("7", "Roll prod back by hand (sprout rollback)", story.rollback_by_hand),
    ("8", "Auto-rollback: promote build #2 again under steady traffic; Sprout rolls back by itself",
     auto_rollback.rolls_back_by_itself),
    ("8b", "Promote build #2 again as a canary (canary10-10s) under steady traffic: judged by its own errors, "
           "aborted within seconds", canary.broken_build_as_canary),
    ("9", "Revert the bad commit and push: build #3 reaches dev", story.revert_and_push),
    ("9b", "The broken create again, proposed as a pull request before it reaches main: preview pr-1 answers 502, "
           "dev and prod untouched, the comment names its URL; closing it leaves nothing", previews.pull_request_preview),
    ("10", "A real app with dependencies (greeter: requirements.txt, package.json + lockfile, a BuildMethod layer): "
           "CodeBuild installs them, dev answers; the same source again builds nothing new",
     dependencies.app_with_dependencies),
]


def cloud_env(cloud: LocalSprout) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_ACCESS_KEY_ID": "localcloud",
        "AWS_SECRET_ACCESS_KEY": "localcloud",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SPROUT_API_URL": cloud.api_url,
    }


def tell(d: story.Demo, failure: str | None) -> None:
    tl = d.tl
    print(f"\n{BOLD}== Timeline{RESET}")
    for x in tl.entries:
        print(f"{GREEN if x.ok else RED}{x.at:7.1f} s  step {x.step}  {x.result}{RESET}")
    for name, value in tl.figures.items():
        print(f"   {name}: {value}")
    samples = list(d.traffic.samples) if d.traffic else []
    path = report.write(REPORT, tl, samples, failure)
    print(f"\nreport: {path} ({path.stat().st_size // 1024} KiB)")
    if failure:
        print(f"\n{RED}demo failed at step {tl.step}: {failure}{RESET}", file=sys.stderr)
    else:
        print(f"\n{GREEN}{BOLD}demo finished in {tl.since():.0f} s: every step behaved as the story says{RESET}")


def keep_running(d: story.Demo, cloud: LocalSprout, env: dict[str, str]) -> None:
    print(f"\n{BOLD}== The local cloud keeps running (KEEP=1); Ctrl-C stops it{RESET}")
    print(f"   local cloud (every AWS service): {cloud.endpoint}")
    print(f"   Sprout's API: {cloud.api_url}")
    print(f"   the notes app: dev {d.dev_url or '(not deployed)'}  prod {d.prod_url or '(not deployed)'}")
    print("   in another shell:")
    print(f"   export PATH={story.BIN}:$PATH")
    print("   export " + " ".join(f"{k}={v}" for k, v in env.items() if k != "SPROUT_API_URL"))
    print(f"   export SPROUT_API_URL={env['SPROUT_API_URL']}")
    print("   then e.g. `aws codecommit list-repositories`, `sprout builds list notes`, "
          "`sprout deployments list notes prod`, `sprout access-logs notes prod --follow`")
    print(f"   the local cloud's state is kept in {cloud.data_dir}: after Ctrl-C (or a crash), "
          f"`sprout local up --enforce-iam --port {cloud.endpoint.rsplit(':', 1)[1]} --data-dir {cloud.data_dir}` "
          "brings it back as it was, and `sprout console` shows it again "
          f"(`sprout local reset --data-dir {cloud.data_dir}` empties it)", flush=True)
    from sprout.console.server import serve

    # the console, on this process: the same signed API calls as the CLI (CONSOLE_PORT, default 8080)
    serve(d.api, int(os.environ.get("CONSOLE_PORT", "8080")),
          lambda url: print(f"   the console: {url} (sprout console)", flush=True))


def run_story(d: story.Demo) -> str | None:
    """Steps 1 (after the cloud is up) to 10; the failure, or None when every step behaved."""
    try:
        story.register(d)
        notifications.start(d)
        for number, title, step in STEPS:
            d.tl.begin(number, title)
            step(d)
            notifications.after_step(d, number)
            if number == "3":
                auto_rollback.auto_rollback_off(d)
        return None
    except (DemoFailed, TimeoutError, ApiError, SproutError) as e:
        d.tl.record(f"FAILED: {str(e).splitlines()[0]}", ok=False)
        return str(e)
    except Exception as e:  # a bug of the demo's own: still a report, and the traceback
        traceback.print_exc()
        d.tl.record(f"FAILED: {type(e).__name__}: {e}", ok=False)
        return f"{type(e).__name__}: {e}"
    finally:
        notifications.summary(d)
        if d.traffic:
            d.traffic.stop()


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    args.add_argument("--keep", action="store_true", help="leave the local cloud running until Ctrl-C")
    keep = args.parse_args(argv).keep
    # Ctrl-C and a TERM (a CI timeout) both stop the local cloud on the way out, even where the
    # shell started the demo with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    tl = Timeline()
    data_dir = Path(tempfile.mkdtemp(prefix="sprout-demo-"))
    tl.begin("1", "Start the local cloud with Sprout (sprout local up --enforce-iam); "
                  "the notes repository; the app with dev and prod")
    try:
        cloud = LocalSprout.start(data_dir / "cloud", cwd=story.ROOT, extra_args=("--enforce-iam",))
    except (LocalCloudDidNotStart, KeyboardInterrupt) as e:
        print(f"demo failed: {e or 'interrupted'}", file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)
        return 1
    failure, told = None, False
    try:
        env = cloud_env(cloud)
        os.environ.update(env)  # the demo's own signed calls use the same credentials and region
        tl.record(f"local cloud at {cloud.endpoint} (IAM enforced), Sprout's API at {cloud.api_url}")
        d = story.Demo(tl=tl, env={**os.environ, **env}, api=SproutClient(cloud.api_url),
                       work=data_dir / "notes")
        failure = run_story(d)
        tell(d, failure)
        told = True
        if keep:
            keep_running(d, cloud, env)
        return 1 if failure else 0
    except KeyboardInterrupt:
        print("\nstopping the local cloud", file=sys.stderr)
        # after the story (KEEP=1), Ctrl-C is how it ends: the story's outcome is the exit status
        return (1 if failure else 0) if told else 130
    finally:
        cloud.stop()
        if keep and told:  # the state stays for `sprout local up --data-dir` (said in keep_running)
            shutil.rmtree(data_dir / "notes", ignore_errors=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
