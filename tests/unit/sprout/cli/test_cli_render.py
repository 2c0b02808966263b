"""What the CLI prints for people: change sets, tables, deployments, stages, log lines, metrics."""

import re

from sprout.cli import render, render_monitoring
from sprout.cli.client import api_path

CHANGESET = {
    "changesetId": "000004:7",
    "app": "notes",
    "stage": "prod",
    "build": 7,
    "current": {"deployment": "000004", "build": 5},
    "confirmRequired": True,
    "summary": "2 functions changed, 1 added",
    "changes": [
        {
            "class": "minor",
            "kind": "code-changed",
            "logicalId": "GetNoteFunction",
            "type": "AWS::Lambda::Function",
            "detail": "sha256 1a2b… → 3c4d…",
        },
        {
            "class": "major",
            "kind": "function-added",
            "logicalId": "ShareNoteFunction",
            "type": "AWS::Lambda::Function",
            "detail": "new function",
        },
        {
            "class": "major",
            "kind": "config-changed",
            "logicalId": "CreateNoteFunction",
            "type": "AWS::Lambda::Function",
            "detail": "environment: TABLE changed (values masked)",
        },
    ],
    "commits": [
        {"id": "c" * 40, "author": "Ana <ana@example.com>", "message": "Share notes\n\nlong body"},
        {"id": "b" * 40, "author": "Bo", "message": "Faster get"},
    ],
}


def test_given_a_change_set_when_printed_then_summary_then_groups_in_kind_order_major_marked_then_commits():
    text = render.changeset(CHANGESET)
    lines = text.splitlines()
    assert lines[0] == "notes/prod: build 5 → build 7: 2 functions changed, 1 added"
    assert lines[1] == "3 changes, 2 major — confirm required"
    # groups come in a fixed order (added, …, code, config), whatever order the API listed them in
    titles = [line for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert titles == [
        "functions added:",
        "code changed:",
        "configuration changed:",
        "commits (2, newest first):",
    ]
    marked = {line.split()[2]: line.split()[0:2] for line in lines if line.startswith("  ! MAJOR")}
    assert set(marked) == {"ShareNoteFunction", "CreateNoteFunction"}
    assert re.search(
        r"^\s+minor\s+GetNoteFunction\s+AWS::Lambda::Function\s+sha256 1a2b… → 3c4d…$", text, re.M
    )
    assert lines.index("commits (2, newest first):") < [i for i, x in enumerate(lines) if "cccccccc" in x][0]
    assert "long body" not in text and "Share notes" in text
    assert lines[-1] == "change set 000004:7"


def test_given_a_change_set_against_an_empty_stage_with_no_changes_when_printed_then_it_says_so():
    text = render.changeset(
        {**CHANGESET, "current": None, "changes": [], "commits": [], "confirmRequired": False}
    )
    assert text.splitlines()[0].startswith("notes/prod: nothing deployed → build 7")
    assert "0 changes, 0 major" in text and "confirm required" not in text
    assert "no changes" in text and "commits: none in between" in text


def test_given_rows_when_tabled_then_columns_align_and_numbers_are_right_aligned():
    text = render.table(
        [{"n": 7, "s": "SUCCEEDED"}, {"n": 12, "s": None}],
        [("#", lambda r: r["n"]), ("status", lambda r: r["s"])],
    )
    assert text.splitlines() == [" #  status", " 7  SUCCEEDED", "12  -"]
    assert render.table([], [("#", lambda r: r)], empty="no builds yet") == "no builds yet"


DEPLOYMENT = {
    "id": "000009",
    "app": "notes",
    "stage": "prod",
    "build": 7,
    "kind": "promote",
    "status": "FAILED",
    "trigger": {"type": "user", "by": "arn:aws:iam::123456789012:user/ana"},
    "replaces": "000004",
    "versions": {"CreateNoteFunction": "3"},
    "startedAt": "2026-12-02T10:31:29.123Z",
    "finishedAt": "2026-12-02T10:31:31.623Z",
    "durationMs": 2500,
    "error": "States.TaskFailed: boom\nmore",
    "step": "Deploy",
    "execution": "arn:aws:states:us-east-1:123456789012:execution:deploy:x",
}


def test_given_a_failed_deployment_when_listed_then_one_row_shows_kind_build_trigger_duration_and_reason():
    text = render.deployments({"deployments": [DEPLOYMENT], "nextToken": "abc"})
    header, row, more = text.splitlines()
    assert header.split() == [
        "id",
        "kind",
        "build",
        "status",
        "trigger",
        "started",
        "took",
        "replaces",
        "error",
    ]
    assert row.startswith("000009  promote      7  FAILED  user (arn:aws:iam::123456789012:user/ana)")
    assert re.search(r"  2026-12-02 10:31:29  2\.5 s +000004  ", row) and row.endswith(
        "Deploy: States.TaskFailed: boom more"
    )
    assert more == "(more: --next-token abc)"
    line = render.deployment_line(DEPLOYMENT)
    assert (
        line == "promote of build 7 to prod FAILED in 2.5 s (deployment 000009): failed at Deploy: "
        "States.TaskFailed: boom more"
    )


def test_given_a_stage_when_shown_then_it_says_build_deployment_lock_and_the_version_behind_each_live_alias():
    text = render.stage(
        {
            "app": "notes",
            "name": "prod",
            "branch": None,
            "autoDeploy": False,
            "stackName": "notes-prod",
            "currentDeployment": {**DEPLOYMENT, "status": "SUCCEEDED", "error": None},
            "build": {"number": 7, "commitId": "c" * 40, "message": "Share notes"},
            "functions": [
                {
                    "logicalId": "CreateNoteFunction",
                    "functionName": "notes-prod-CreateNoteFunction",
                    "version": "3",
                    "sha256": "f" * 64,
                }
            ],
            "lock": {
                "deployment": "000010",
                "execution": "arn:x",
                "since": "2026-12-02T10:40:00Z",
                "expiresAt": "2026-12-02T10:55:00Z",
            },
            "autoRollback": {"enabled": True},
        }
    )
    assert text.splitlines()[0] == "notes/prod  promote-only  stack notes-prod"
    assert "  build      7 cccccccccccc Share notes" in text
    assert "held by deployment 000010 since 2026-12-02 10:40:00, lease until 2026-12-02 10:55:00" in text
    assert "auto-rollback on" in text
    assert re.search(r"CreateNoteFunction\s+notes-prod-CreateNoteFunction\s+3\s+f{16}$", text, re.M)


ENTRIES = [  # newest first, as the API answers
    {
        "requestId": "r2",
        "requestTimeEpoch": 1796207491000,
        "httpMethod": "POST",
        "path": "/notes",
        "status": 502,
        "latency": 31,
        "ip": "10.0.0.1",
        "errorMessage": "Internal server error",
    },
    {
        "requestId": "r1",
        "requestTimeEpoch": 1796207490000,
        "httpMethod": "GET",
        "path": "/notes/1",
        "status": 200,
        "latency": 12,
        "ip": "10.0.0.1",
        "errorMessage": None,
    },
]


def test_given_access_log_entries_when_printed_then_oldest_first_with_the_error_of_failures_only():
    rows = render_monitoring.access_log_entries(ENTRIES).splitlines()
    assert rows[0].split()[:4] == ["time", "status", "method", "path"]
    assert [r.split()[2:5] for r in rows[1:]] == [["200", "GET", "/notes/1"], ["502", "POST", "/notes"]]
    assert re.search(r" r2 +Internal server error$", rows[2]) and re.search(r" r1 +-$", rows[1])
    follow_lines = render_monitoring.access_log_lines(ENTRIES).splitlines()
    assert follow_lines[1].startswith("2026-12-02 ") and " 502  POST   /notes  31 ms" in follow_lines[1]


def test_given_log_events_with_a_traceback_when_printed_then_continuation_lines_are_indented_under_it():
    text = render_monitoring.log_events(
        [
            {
                "timestamp": "2026-12-02T10:31:30.000Z",
                "logStream": "2026/12/02/[3]abc123",
                "message": "[ERROR] NameError: name 'gibberish' is not defined\nTraceback (most recent call last):\n",
            },
            {
                "timestamp": "2026-12-02T10:31:29.000Z",
                "logStream": "2026/12/02/[3]abc123",
                "message": "START\n",
            },
        ]
    )
    assert text.splitlines() == [
        "2026-12-02 10:31:29  abc123        START",
        "2026-12-02 10:31:30  abc123        [ERROR] NameError: name 'gibberish' is not defined",
        " " * 33 + "Traceback (most recent call last):",
    ]


def test_given_api_metrics_when_printed_then_a_table_and_a_chart_with_time_ticks():
    points = [
        {
            "timestamp": f"2026-12-02T10:{m:02d}:00Z",
            "requests": 10 + m,
            "4xx": 1,
            "5xx": m % 3,
            "latencyAvg": 20.5,
            "latencyP90": 40.0,
            "latencyP95": 55.25,
            "latencyP99": None,
        }
        for m in range(8)
    ]
    text = render_monitoring.api_metrics(
        {"period": 60, "since": points[0]["timestamp"], "until": "2026-12-02T10:08:00Z", "points": points}
    )
    lines = text.splitlines()
    assert lines[0] == "API metrics 2026-12-02 10:00:00 → 2026-12-02 10:08:00, period 60 s"
    assert lines[1].split() == [
        "time",
        "requests",
        "4xx",
        "5xx",
        "avg",
        "ms",
        "p90",
        "ms",
        "p95",
        "ms",
        "p99",
        "ms",
    ]
    assert lines[2].split()[2:] == ["10", "1", "0", "20.5", "40.0", "55.2", "-"]
    chart = "\n".join(lines[10:])
    assert "10:00" in chart and "10:06" in chart and "requests" in chart and "5xx" in chart
    assert "\x1b[" not in chart  # no colour codes unless printing to a terminal
    assert render_monitoring.api_metrics({"points": points}, chart_width=None).count("\n") == 9


def test_given_path_segments_with_slashes_and_spaces_when_joined_then_each_is_encoded():
    assert api_path("apps", "a/b c", "builds", 3) == "/apps/a%2Fb%20c/builds/3"
    # a dot segment is encoded too: nothing on the way (SigV4's path normalization included) removes it
    assert api_path("apps", "..", "stages", "?x=1#") == "/apps/%2E%2E/stages/%3Fx%3D1%23"
