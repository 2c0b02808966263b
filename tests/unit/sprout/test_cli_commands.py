"""The CLI's commands, run in-process against a fake Sprout API over real HTTP (fake_sprout_api.py:
it refuses unsigned requests and answers contract-shaped JSON)."""

from __future__ import annotations

import io
import json
import socket

import pytest

from sprout.cli.client import ApiUnreachable, SproutClient
from sprout.cli.follow import EntryFollower, follow
from sprout.cli.main import main
from tests.unit.sprout.fake_sprout_api import FakeSproutApi

APP = {
    "name": "notes",
    "repository": "notes",
    "templatePath": "template.yaml",
    "stages": [
        {"name": "dev", "branch": "main", "autoDeploy": True},
        {"name": "prod", "branch": None, "autoDeploy": False},
    ],
    "createdAt": "2026-12-02T09:00:00.000Z",
}
BUILD7 = {
    "number": 7,
    "commitId": "c" * 40,
    "branch": "main",
    "status": "SUCCEEDED",
    "message": "Share notes",
    "author": "Ana",
    "createdAt": "2026-12-02T10:00:00.000Z",
    "finishedAt": "2026-12-02T10:01:00.000Z",
    "quarantined": False,
    "liveOn": ["dev"],
    "rolledBackFrom": [],
}
DEV = {
    "app": "notes",
    "name": "dev",
    "branch": "main",
    "autoDeploy": True,
    "stackName": "notes-dev",
    "currentDeployment": None,
    "build": BUILD7,
    "functions": [],
    "lock": None,
    "autoRollback": None,
}
PROD = {
    **DEV,
    "name": "prod",
    "branch": None,
    "autoDeploy": False,
    "stackName": "notes-prod",
    "build": {**BUILD7, "number": 5},
}


def changeset(confirm: bool, changeset_id: str = "000004:7") -> dict:
    return {
        "changesetId": changeset_id,
        "app": "notes",
        "stage": "prod",
        "build": 7,
        "current": {"deployment": "000004", "build": 5},
        "confirmRequired": confirm,
        "summary": "1 function changed",
        "changes": [
            {
                "class": "major" if confirm else "minor",
                "kind": "code-changed",
                "logicalId": "CreateNoteFunction",
                "type": "AWS::Lambda::Function",
                "detail": "sha256 a → b",
            }
        ],
        "commits": [{"id": "c" * 40, "author": "Ana", "message": "Share notes"}],
    }


def deployment(status: str, **more) -> dict:
    return {
        "id": "000009",
        "app": "notes",
        "stage": "prod",
        "build": 7,
        "kind": "promote",
        "status": status,
        "trigger": {"type": "user", "by": "ana"},
        "replaces": "000004",
        "versions": {},
        "startedAt": "2026-12-02T10:31:29.000Z",
        "finishedAt": None,
        "durationMs": None,
        "error": None,
        "step": "Deploy",
        "execution": "arn:x",
        **more,
    }


PROD_PATH = "/apps/notes/stages/prod"


@pytest.fixture
def api(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "SPROUT_STACK_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with FakeSproutApi() as fake:
        monkeypatch.setenv("SPROUT_API_URL", fake.url)
        yield fake


@pytest.fixture
def sprout(capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return exited.value.code, out, err

    return run


def test_given_builds_when_listed_then_a_table_for_people_and_the_raw_json_with_json(api, sprout):
    api.on("GET", "/apps/notes/builds", (200, {"builds": [BUILD7], "nextToken": "t2"}))
    code, out, _ = sprout("builds", "list", "notes", "--limit", "1")
    assert code == 0
    assert out.splitlines()[1].split()[:5] == ["7", "SUCCEEDED", "c" * 12, "main", "dev"]
    assert out.splitlines()[-1] == "(more: --next-token t2)"
    assert api.asked[-1].query == {"limit": "1"}
    code, out, _ = sprout("--json", "builds", "list", "notes")
    assert (code, json.loads(out)) == (0, {"builds": [BUILD7], "nextToken": "t2"})


def test_given_names_with_slashes_when_sent_then_each_path_segment_is_encoded(api, sprout):
    api.on("GET", "/apps/a%2Fb%20c", (404, {"message": "app a/b c not found"}))
    code, out, err = sprout("apps", "show", "a/b c")
    # THEN the API saw one segment, and its 404 is one line saying what to do
    assert api.paths() == ["/apps/a%2Fb%20c"]
    assert (code, out) == (1, "")
    assert (
        err
        == "sprout: app a/b c not found; `sprout apps list` lists the apps, `sprout apps show APP` an app's stages\n"
    )


def test_given_an_unknown_stage_when_waiting_for_a_build_then_it_fails_at_once(api, sprout):
    api.on("GET", "/apps/notes", (200, APP))
    code, _, err = sprout("builds", "wait", "notes", "1", "--stage", "qa", "--timeout", "600")
    assert code == 1
    assert err == (
        "sprout: app notes has no stage qa (its stages: dev, prod); `sprout apps show APP` lists them\n"
    )
    assert api.paths() == ["/apps/notes"]  # it never polled the build


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
    assert "Promote build 7 of notes to prod? [y/N]" in out
    assert len(api.paths("POST")) == posted
    assert code == (0 if posted else 1)
    if not posted:
        assert err == "sprout: not confirmed: nothing changed\n"


def test_given_rollback_without_yes_and_without_a_terminal_then_it_is_refused(api, sprout):
    api.on("GET", PROD_PATH, (200, PROD))
    code, out, err = sprout("rollback", "notes", "prod")
    assert code == 1 and "runs build 5; rolling back to the build of its previous good deployment" in out
    assert "re-run with --yes" in err and api.paths("POST") == []


@pytest.mark.parametrize(("flags", "body"), [([], {}), (["--build", "3"], {"build": 3})])
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


def test_given_access_logs_without_a_verb_then_it_shows_the_entries(api, sprout):
    entry = {
        "requestId": "r1",
        "requestTimeEpoch": 1796207490000,
        "httpMethod": "POST",
        "path": "/notes",
        "status": 502,
        "latency": 31,
        "ip": "10.0.0.1",
        "errorMessage": "Internal server error",
    }
    api.on("GET", f"{PROD_PATH}/access-logs", (200, {"entries": [entry], "nextToken": None}))
    code, out, _ = sprout("access-logs", "notes", "prod", "--status", "5xx")
    assert code == 0
    assert api.asked[-1].query == {"status": "5xx", "since": "15m"}
    assert " 502  POST    /notes" in out and "Internal server error" in out


@pytest.mark.parametrize(("verb", "enabled"), [("enable", True), ("disable", False)])
def test_given_access_logs_enable_or_disable_then_one_put_and_the_settings_printed(
    api, sprout, verb, enabled
):
    settings = {
        "enabled": enabled,
        "apis": [
            {
                "apiId": "a1",
                "stage": "prod",
                "logGroup": "API-Gateway-Access-Logs_a1/prod",
                "destinationArn": "arn:logs",
            }
        ],
        "accountRole": {"arn": "arn:aws:iam::1:role/sprout-apigw", "kept": False},
        "retentionDays": 30,
    }
    api.on("PUT", f"{PROD_PATH}/access-logs", (200, settings))
    code, out, _ = sprout("access-logs", verb, "notes", "prod")
    assert code == 0 and api.asked[-1].body == {"enabled": enabled}
    assert out.startswith(f"access logs {'on' if enabled else 'off'}, retention 30 days")
    assert "API-Gateway-Access-Logs_a1/prod" in out


def test_given_a_function_when_asking_its_metrics_then_live_and_all_tables_and_a_chart(api, sprout):
    point = {
        "timestamp": "2026-12-02T10:00:00Z",
        "invocations": 4,
        "errors": 2,
        "throttles": 0,
        "durationAvg": 10.0,
        "durationP90": 12.0,
        "durationP95": 13.0,
        "durationP99": 14.0,
    }
    api.on(
        "GET",
        f"{PROD_PATH}/functions/create/metrics",
        (200, {"function": "CreateNoteFunction", "period": 60, "live": [point], "all": [point, point]}),
    )
    code, out, _ = sprout("metrics", "notes", "prod", "--function", "create", "--period", "60")
    assert code == 0
    assert api.asked[-1].query == {"since": "1h", "period": "60"}
    assert out.startswith("function CreateNoteFunction, period 60 s\nlive alias:\n")
    assert (
        out.count("2026-12-02 10:00:00") == 3
        and "invocations" in out
        and "10:00" in out.split("all versions:")[1]
    )


def test_given_auto_rollback_enable_with_thresholds_then_they_are_sent_as_the_api_spells_them(api, sprout):
    api.on(
        "PUT",
        f"{PROD_PATH}/auto-rollback",
        (
            200,
            {
                "enabled": True,
                "alarms": [{"name": "sprout-notes-prod-fast", "state": "OK", "metric": "5xx"}],
                "cooldownSeconds": 300,
            },
        ),
    )
    code, out, _ = sprout(
        "auto-rollback", "enable", "notes", "prod", "--error-threshold", "3", "--period-seconds", "10"
    )
    assert code == 0 and api.asked[-1].body == {"enabled": True, "errorThreshold": 3, "periodSeconds": 10}
    assert out.splitlines()[0] == "auto-rollback on" and "sprout-notes-prod-fast  OK" in out


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"message": "since: not an ISO 8601 time or duration", "field": "since"},
            "sprout: since: not an ISO 8601 time or duration\n",
        ),
        (400, {"message": "bad value", "field": "until"}, "sprout: bad value (field until)\n"),
        (
            502,
            "<html>\n<body>Bad Gateway</body>\n</html>",
            "sprout: Sprout's API failed (HTTP 502): <html> <body>Bad Gateway</body> </html>; retry, and if it "
            "persists read its logs\n",
        ),
        (
            404,
            {"message": "function nope of notes/prod not found"},
            "sprout: function nope of notes/prod not found; `sprout functions list APP STAGE` lists a stage's functions\n",
        ),
    ],
)
def test_given_an_api_refusal_when_running_a_command_then_one_line_says_it(
    api, sprout, status, body, expected
):
    api.on("GET", f"{PROD_PATH}/functions/nope/logs", (status, body))
    code, out, err = sprout("logs", "notes", "prod", "nope", "--since", "yesterday")
    assert (code, out, err) == (1, "", expected)


def test_given_logs_followed_when_new_events_arrive_then_each_prints_once_in_order_asking_since_the_newest(
    api,
):
    path = f"{PROD_PATH}/functions/create/logs"
    e = [
        {"timestamp": f"2026-12-02T10:31:0{i}.000Z", "logStream": "s", "message": f"line {i}"}
        for i in range(5)
    ]
    api.on(
        "GET",
        path,
        (200, {"events": [e[1], e[0]], "nextToken": "older"}),  # first look: one page only
        (200, {"events": [e[3], e[2], e[1]], "nextToken": "p2"}),  # the boundary event comes again
        (200, {"events": [], "nextToken": None}),  # … and its second page is empty
        (200, {"events": [e[4]], "nextToken": None}),
    )
    client = SproutClient(api.url)
    follower = EntryFollower(
        lambda since, token: client.request("GET", path, query={"since": since, "nextToken": token}),
        "events",
        key=lambda x: (x["timestamp"], x["message"]),
        stamp=lambda x: x["timestamp"],
    )
    shown: list[list[str]] = []
    follow(
        follower, lambda entries: shown.append([x["message"] for x in entries]), "15m", every=0.01, polls=2
    )
    assert shown == [["line 0", "line 1"], ["line 2", "line 3"], ["line 4"]]
    assert [a.query.get("since") for a in api.asked] == [
        "15m",
        e[1]["timestamp"],
        e[1]["timestamp"],
        e[3]["timestamp"],
    ]
    assert [a.query.get("nextToken") for a in api.asked] == [None, None, "p2", None]


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


def test_given_an_api_that_accepts_but_never_answers_when_called_then_unreachable_names_the_timeout(api):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections queue up, nothing ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        with pytest.raises(ApiUnreachable) as raised:
            SproutClient(url, timeout=0.3).request("GET", "/apps")
    assert str(raised.value).startswith(f"Sprout's API at {url} did not answer within 0.3 s;")


def test_given_access_logs_followed_when_ctrl_c_then_each_entry_printed_once_oldest_first_and_exit_0(
    api, sprout, monkeypatch
):
    def entry(n: int) -> dict:
        return {
            "requestId": f"r{n}",
            "requestTimeEpoch": 1796207490000 + n * 1000,
            "httpMethod": "GET",
            "path": f"/notes/{n}",
            "status": 200,
            "latency": n,
            "ip": "10.0.0.1",
        }

    api.on(
        "GET",
        f"{PROD_PATH}/access-logs",
        (200, {"entries": [entry(2), entry(1)], "nextToken": None}),
        (200, {"entries": [entry(3), entry(2)], "nextToken": None}),
    )
    polls = iter([None, KeyboardInterrupt()])

    def sleep(seconds: float) -> None:  # the second wait is the person pressing Ctrl-C
        if (outcome := next(polls)) is not None:
            raise outcome

    monkeypatch.setattr("sprout.cli.follow.time", type("Clock", (), {"sleep": staticmethod(sleep)}))
    code, out, _ = sprout("access-logs", "notes", "prod", "--follow", "--since", "5m")
    assert code == 0
    assert [line.split()[4] for line in out.splitlines()] == ["/notes/1", "/notes/2", "/notes/3"]
    assert [a.query["since"] for a in api.asked] == ["5m", "2026-12-02T10:31:32.000Z"]
