"""``sprout changeset``, ``promote`` and ``rollback`` against a fake Sprout API over real HTTP: the
change set shown, the confirm (terminal or ``--yes``), the deployment followed to its end."""

from __future__ import annotations

import io
import json

import pytest

from tests.unit.sprout.cli.samples import APP, DEV, PROD, PROD_PATH, changeset, deployment


def test_given_a_change_set_needing_a_confirm_and_no_terminal_when_promoting_without_yes_then_nothing_starts(
    api, sprout
):
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=True)))
    code, out, err = sprout("promote", "notes", "--to", "prod", "--build", "7")
    assert code == 1
    assert "! MAJOR  CreateNoteFunction" in out
    assert err.count("\n") == 1 and "re-run with --yes" in err
    assert api.paths("POST") == []


def test_given_yes_when_promoting_the_build_dev_runs_then_it_sends_the_change_set_and_follows_to_success(
    api, sprout
):
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/stages/dev", (200, DEV))
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=True)))
    api.on("POST", f"{PROD_PATH}/promote", (202, {"execution": "arn:x", "deployment": "000009", "build": 7}))
    api.on(
        "GET",
        f"{PROD_PATH}/deployments/000009",
        (404, {"message": "deployment 000009 not found"}),
        (200, deployment("IN_PROGRESS")),
        (200, deployment("SUCCEEDED", durationMs=2400, step=None)),
    )
    code, out, err = sprout("promote", "notes", "--to", "prod", "--yes")
    assert code == 0
    # THEN the source was the build dev runs, and the promote carried the change set's id
    assert api.asked[2].query == {"build": "7"}
    assert [a.body for a in api.asked if a.method == "POST"] == [{"build": 7, "changesetId": "000004:7"}]
    assert out.splitlines()[0] == "notes/prod: build 5 → build 7: 1 function changed"
    assert out.splitlines()[-1] == "promote of build 7 to prod SUCCEEDED in 2.4 s (deployment 000009)"
    # AND progress went to stderr, one line per change (no terminal)
    assert err.splitlines() == [
        "deployment 000009 to prod: starting",
        "promote of build 7 to prod: IN_PROGRESS at Deploy",
    ]


def test_given_a_promote_that_fails_when_followed_then_it_prints_where_and_exits_1(api, sprout):
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=False)))
    api.on("POST", f"{PROD_PATH}/promote", (202, {"execution": "arn:x", "deployment": "000009", "build": 7}))
    api.on(
        "GET",
        f"{PROD_PATH}/deployments/000009",
        (200, deployment("FAILED", durationMs=900, error="StackUpdateFailed: bad template")),
    )
    # WHEN no terminal and no --yes: a change set without major changes needs no confirm
    code, out, _ = sprout("promote", "notes", "--to", "prod", "--build", "7")
    assert code == 1
    assert out.splitlines()[-1] == (
        "promote of build 7 to prod FAILED in 0.9 s (deployment 000009): failed at Deploy: StackUpdateFailed: bad template"
    )


def test_given_a_stale_change_set_when_promoting_then_the_fresh_one_is_shown_and_nothing_is_followed(
    api, sprout
):
    fresh = {
        **changeset(confirm=True, changeset_id="000005:7"),
        "current": {"deployment": "000005", "build": 6},
    }
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=True)))
    api.on("POST", f"{PROD_PATH}/promote", (409, {"message": "the change set is stale", "changeset": fresh}))
    code, out, err = sprout("promote", "notes", "--to", "prod", "--build", "7", "--yes")
    assert code == 1
    assert "notes/prod: build 6 → build 7" in out and out.rstrip().endswith("change set 000005:7")
    assert err.count("\n") == 1 and "re-run `sprout promote notes --to prod` to confirm it" in err
    assert not any("/deployments/" in p for p in api.paths())


def test_given_a_busy_stage_when_promoting_then_the_holder_is_named(api, sprout):
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=False)))
    holder = {
        "deployment": "000008",
        "execution": "arn:y",
        "since": "2026-12-02T10:30:00Z",
        "expiresAt": "2026-12-02T10:45:00Z",
    }
    api.on("POST", f"{PROD_PATH}/promote", (409, {"message": "stage prod is busy", "holder": holder}))
    code, _, err = sprout("promote", "notes", "--to", "prod", "--build", "7")
    assert code == 1
    assert err.startswith("sprout: stage prod is busy (held by deployment 000008 since 2026-12-02T10:30:00Z")
    assert err.count("\n") == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "posted"), [("n\n", 0), ("\n", 0), ("y\n", 1)])
def test_given_a_terminal_when_promoting_then_it_asks_and_goes_on_only_on_yes(
    api, sprout, monkeypatch, answer, posted
):
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=False)))
    api.on("POST", f"{PROD_PATH}/promote", (202, {"execution": "arn:x", "deployment": "000009", "build": 7}))
    api.on("GET", f"{PROD_PATH}/deployments/000009", (200, deployment("SUCCEEDED", durationMs=100)))
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    code, out, err = sprout("promote", "notes", "--to", "prod", "--build", "7")
    assert "Promote build 7 of notes to prod? [y/N]" in err and "[y/N]" not in out
    assert len(api.paths("POST")) == posted
    assert code == (0 if posted else 1)
    if not posted:
        assert err.endswith("[y/N] sprout: not confirmed: nothing changed\n")


def test_given_rollback_without_yes_and_without_a_terminal_then_it_is_refused(api, sprout):
    api.on("GET", PROD_PATH, (200, PROD))
    code, out, err = sprout("rollback", "notes", "prod")
    assert code == 1 and "runs build 5; rolling back to the build of its previous good deployment" in out
    assert "re-run with --yes" in err and api.paths("POST") == []


@pytest.mark.parametrize(("flags", "body"), [([], {}), (["--build", "3"], {"build": 3}),
                                           (["--build", "3", "--force"], {"build": 3, "force": True})])
def test_given_rollback_with_yes_then_it_starts_and_follows_the_rollback(api, sprout, flags, body):
    api.on("GET", PROD_PATH, (200, PROD))
    api.on("POST", f"{PROD_PATH}/rollback", (202, {"execution": "arn:x", "deployment": "000010", "build": 3}))
    api.on(
        "GET",
        f"{PROD_PATH}/deployments/000010",
        (200, deployment("SUCCEEDED", id="000010", kind="rollback", build=3, durationMs=800)),
    )
    code, out, _ = sprout("rollback", "notes", "prod", "--yes", *flags)
    assert code == 0
    assert [a.body for a in api.asked if a.method == "POST"] == [body]
    assert out.splitlines()[-1] == "rollback of build 3 to prod SUCCEEDED in 0.8 s (deployment 000010)"


@pytest.mark.parametrize(
    ("stage", "dev", "said"),
    [
        (
            "dev",
            DEV,
            "sprout: dev is the first stage of notes: no stage before it to promote from; pass --build N\n",
        ),
        (
            "prod",
            {**DEV, "build": None},
            "sprout: dev runs no build yet, so there is nothing to promote to prod; pass --build N\n",
        ),
        ("qa", DEV, "sprout: app notes has no stage qa (its stages: dev, prod)\n"),
    ],
)
def test_given_no_build_when_promoting_and_nothing_to_take_it_from_then_one_line_says_to_pass_build(
    api, sprout, stage, dev, said
):
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/stages/dev", (200, dev))
    code, out, err = sprout("promote", "notes", "--to", stage, "--yes")
    assert (code, out, err) == (1, "", said)
    assert api.paths("POST") == []


def test_given_json_when_promoting_then_stdout_is_one_json_document_of_change_set_start_and_end(api, sprout):
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=True)))
    started = {"execution": "arn:x", "deployment": "000009", "build": 7}
    api.on("POST", f"{PROD_PATH}/promote", (202, started))
    api.on("GET", f"{PROD_PATH}/deployments/000009", (200, deployment("SUCCEEDED", durationMs=100)))
    code, out, err = sprout("--json", "promote", "notes", "--to", "prod", "--build", "7", "--yes")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "changeset": changeset(confirm=True),
        "promote": started,
        "deployment": deployment("SUCCEEDED", durationMs=100),
    }


def test_given_a_strategy_when_promoting_then_it_is_sent_and_a_canary_is_controlled_by_deployments_abort(api, sprout):
    """GIVEN a promote with --strategy canary10-1m (a preset) and one with a JSON object
    WHEN run with --no-wait, then `sprout deployments abort`
    THEN each promote body carries the strategy as given, and the abort posts to the deployment's abort."""
    api.on("GET", f"{PROD_PATH}/changeset", (200, changeset(confirm=False)))
    api.on("POST", f"{PROD_PATH}/promote", (202, {"execution": "arn:x", "deployment": "000009", "build": 7}))
    api.on("POST", f"{PROD_PATH}/deployments/000009/abort",
           (202, {"deployment": "000009", "requested": "abort", "control": {"action": "abort"}}))
    code, _, _ = sprout("promote", "notes", "--to", "prod", "--build", "7", "--yes", "--no-wait",
                        "--strategy", "canary10-1m")
    assert code == 0
    code, _, _ = sprout("promote", "notes", "--to", "prod", "--build", "7", "--yes", "--no-wait",
                        "--strategy", '{"type": "linear", "percent": 25, "intervalSeconds": 30}')
    assert code == 0
    bodies = [a.body for a in api.asked if a.method == "POST"]
    assert bodies[0]["strategy"] == "canary10-1m"
    assert bodies[1]["strategy"] == {"type": "linear", "percent": 25, "intervalSeconds": 30}
    code, out, _ = sprout("deployments", "abort", "notes", "prod", "000009")
    assert code == 0 and "abort requested of deployment 000009" in out
    assert api.paths("POST")[-1] == f"{PROD_PATH}/deployments/000009/abort"
