"""The CLI's commands, run in-process against a fake Sprout API over real HTTP (fake_sprout_api.py:
it refuses unsigned requests and answers contract-shaped JSON): apps, builds, monitoring, refusals."""

from __future__ import annotations

import json
import socket

import pytest

from sprout.cli.client import ApiUnreachable, SproutClient
from sprout.cli.follow import EntryFollower, follow
from tests.unit.sprout.cli.samples import APP, BUILD7, PROD_PATH


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
        (
            403,
            {"message": "Missing Authentication Token"},
            "sprout: Sprout's API has no route GET /apps/notes/stages/prod/functions/nope/logs: is the deployed "
            "Sprout older than this CLI, or --api-url not Sprout's API?\n",
        ),
        (
            403,
            {
                "message": "User: arn:aws:iam::123456789012:user/bo is not authorized to perform: execute-api:Invoke"
            },
            "sprout: Sprout's API refused the request: User: arn:aws:iam::123456789012:user/bo is not authorized "
            "to perform: execute-api:Invoke; check your AWS credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE): the "
            "caller needs execute-api:Invoke on Sprout's API\n",
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


def test_given_a_build_that_does_not_settle_when_waiting_then_one_line_says_so_after_the_timeout(api, sprout):
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/builds/3", (200, {**BUILD7, "number": 3, "status": "BUILDING"}))
    code, out, err = sprout("builds", "wait", "notes", "3", "--stage", "dev", "--timeout", "0.3")
    assert (code, out) == (1, "")
    assert (
        err
        == "sprout: build 3 of notes did not settle on dev within 0.3 s; `sprout builds show notes 3` shows where it is\n"
    )


def test_given_a_build_with_environment_values_when_shown_then_values_are_masked_as_in_change_sets(api, sprout):
    # GIVEN an API answering a function's configuration with an environment value in clear
    secret = {"Handler": "create.main", "Environment": {"Variables": {"TABLE_NAME": "notes-table", "TOKEN": "s3cr3t"}}}
    api.on("GET", "/apps/notes/builds/7", (200, {**BUILD7, "functions": [
        {"logicalId": "CreateNoteFunction", "sha256": "a" * 64, "s3Key": "k", "config": secret}]}))
    # WHEN `sprout builds show` prints it, for people and as JSON
    code, out, _ = sprout("builds", "show", "notes", "7")
    _, raw, _ = sprout("--json", "builds", "show", "notes", "7")
    # THEN the keys are shown, never the values
    assert code == 0 and "TABLE_NAME=(value masked), TOKEN=(value masked)" in out
    assert "s3cr3t" not in out + raw and "notes-table" not in out + raw
    config = json.loads(raw)["functions"][0]["config"]
    assert config["Environment"]["Variables"] == {"TABLE_NAME": "(value masked)", "TOKEN": "(value masked)"}
    assert config["Handler"] == "create.main"


RECONCILED = {
    "app": "notes", "stage": "prod", "stack": {"name": "notes-prod", "status": "UPDATE_COMPLETE", "reason": None},
    "record": {"deployment": "000004", "build": 6, "status": "SUCCEEDED", "versions": {"CreateNoteFunction": "3"}},
    "aliases": {"CreateNoteFunction": "4"}, "consistent": False,
    "repaired": [{"deployment": "000005", "build": 7, "was": "FAILED", "now": "SUCCEEDED",
                  "versions": {"CreateNoteFunction": "4"}, "current": True}],
    "message": "repaired: stack notes-prod (UPDATE_COMPLETE) runs deployment 000005 (build 7)",
}


def test_given_reconcile_then_it_posts_and_shows_what_the_record_said_what_runs_and_what_was_repaired(api, sprout):
    api.on("POST", f"{PROD_PATH}/reconcile", (200, RECONCILED))
    code, out, _ = sprout("reconcile", "notes", "prod")
    assert code == 0 and api.paths("POST") == [f"{PROD_PATH}/reconcile"]
    assert "record    deployment 000004 (build 6, SUCCEEDED)" in out
    assert "CreateNoteFunction" in out and "record 3  live 4   <- differs" in out
    assert "repaired  deployment 000005 (build 7): FAILED -> SUCCEEDED, current" in out
    code, out, _ = sprout("--json", "reconcile", "notes", "prod")
    assert (code, json.loads(out)) == (0, RECONCILED)


def test_given_reconcile_finds_a_difference_it_cannot_repair_then_it_exits_1(api, sprout):
    api.on("POST", f"{PROD_PATH}/reconcile", (200, {**RECONCILED, "repaired": [], "message": "no deployment recorded"}))
    code, out, _ = sprout("reconcile", "notes", "prod")
    assert code == 1 and "no deployment recorded" in out
