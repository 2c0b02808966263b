"""What the monitoring commands print for people: access-log and function-log lines, metric tables
with a small terminal chart (plotext), access-log and auto-rollback settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sprout.cli.render import Column, cell, table, when


def access_log_entries(entries: Sequence[dict]) -> str:
    """Entries oldest first (the API answers newest first), so a followed log grows downwards."""
    columns: list[Column] = [
        ("time", entry_time),
        ("status", lambda e: e.get("status")),
        ("method", lambda e: e.get("httpMethod")),
        ("path", lambda e: e.get("path")),
        ("latency ms", lambda e: e.get("latency")),
        ("ip", lambda e: e.get("ip")),
        ("request id", lambda e: e.get("requestId")),
        ("error", lambda e: e.get("errorMessage") or e.get("integrationStatus") if _failed(e) else None),
    ]
    return table(list(reversed(entries)), columns, empty="no access-log entries")


def access_log_lines(entries: Sequence[dict]) -> str:
    """Entries oldest first, one fixed-width line each (for ``--follow``, where no table can align)."""
    lines = []
    for e in reversed(entries):
        line = f"{entry_time(e)}  {cell(e.get('status')):>3}  {cell(e.get('httpMethod')):<6} {cell(e.get('path'))}"
        line += f"  {cell(e.get('latency'))} ms  {cell(e.get('ip'))}  {cell(e.get('requestId'))}"
        if _failed(e) and (e.get("errorMessage") or e.get("integrationStatus")):
            line += f"  {cell(e.get('errorMessage') or e.get('integrationStatus'))}"
        lines.append(line)
    return "\n".join(lines)


def entry_epoch_ms(entry: dict) -> int | None:
    """An access-log entry's ``requestTimeEpoch`` in milliseconds (API Gateway logs milliseconds;
    a value small enough to be seconds is taken as seconds)."""
    value = entry.get("requestTimeEpoch")
    if value is None:
        return None
    try:
        epoch = int(float(value))
    except (TypeError, ValueError):
        return None
    return epoch if epoch > 10**11 else epoch * 1000


def entry_time(entry: dict) -> str:
    epoch = entry_epoch_ms(entry)
    if epoch is None:
        return cell(entry.get("requestTime"))
    return datetime.fromtimestamp(epoch / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _failed(entry: dict) -> bool:
    return str(entry.get("status", "")).startswith(("4", "5"))


def log_events(events: Sequence[dict]) -> str:
    """``time  stream  message`` oldest first; continuation lines (tracebacks) indented under it."""
    lines = []
    for e in reversed(events):
        message_lines = str(e.get("message", "")).rstrip("\n").splitlines() or [""]
        stream = str(e.get("logStream") or "-").rsplit("]", 1)[-1][:12]
        lines.append(f"{when(e.get('timestamp'))}  {stream:<12}  {message_lines[0]}")
        lines.extend(f"{'':<33}{line}" for line in message_lines[1:])
    return "\n".join(lines)


API_COLUMNS: list[Column] = [
    ("time", lambda p: when(p.get("timestamp"))),
    ("requests", lambda p: p.get("requests")),
    ("4xx", lambda p: p.get("4xx")),
    ("5xx", lambda p: p.get("5xx")),
    ("avg ms", lambda p: p.get("latencyAvg")),
    ("p90 ms", lambda p: p.get("latencyP90")),
    ("p95 ms", lambda p: p.get("latencyP95")),
    ("p99 ms", lambda p: p.get("latencyP99")),
]

FUNCTION_COLUMNS: list[Column] = [
    ("time", lambda p: when(p.get("timestamp"))),
    ("invocations", lambda p: p.get("invocations")),
    ("errors", lambda p: p.get("errors")),
    ("throttles", lambda p: p.get("throttles")),
    ("avg ms", lambda p: p.get("durationAvg")),
    ("p90 ms", lambda p: p.get("durationP90")),
    ("p95 ms", lambda p: p.get("durationP95")),
    ("p99 ms", lambda p: p.get("durationP99")),
]


def api_metrics(body: dict, chart_width: int | None = 72, color: bool = False) -> str:
    points = body.get("points", [])
    head = f"API metrics {when(body.get('since'))} → {when(body.get('until'))}, period {body.get('period')} s"
    parts = [head, table(points, API_COLUMNS, empty="no datapoints in this window")]
    if points and chart_width:
        parts.append(chart(points, {"requests": "requests", "4xx": "4xx", "5xx": "5xx"}, chart_width, color))
    return "\n".join(parts)


def function_metrics(body: dict, chart_width: int | None = 72, color: bool = False) -> str:
    live, every = body.get("live", []), body.get("all", [])
    parts = [f"function {body.get('function')}, period {body.get('period')} s", "live alias:"]
    parts.append(table(live, FUNCTION_COLUMNS, empty="no datapoints in this window"))
    parts += ["all versions:", table(every, FUNCTION_COLUMNS, empty="no datapoints in this window")]
    if live and chart_width:
        parts.append(chart(live, {"invocations": "invocations", "errors": "errors"}, chart_width, color))
    return "\n".join(parts)


def chart(points: Sequence[dict], series: dict[str, str], width: int, color: bool = False) -> str:
    """A small line chart of ``series`` (label → point key) over the points, drawn by plotext;
    one line saying so when plotext is not installed."""
    try:
        import plotext
    except ImportError:
        return "(install plotext for a chart)"
    figure = plotext.figure
    figure.clear()
    figure.theme("simple")  # coloured lines on the terminal's own background
    figure.plot_size(width, 14)
    xs = list(range(1, len(points) + 1))
    for label, key in series.items():
        ys = [float(p.get(key) or 0) for p in points]
        signal = figure.signal(xs, ys)
        signal.label(label)
        signal.lines()
        figure.draw(signal)
    step = max(1, len(points) // 4)
    ticks = xs[::step]
    figure.ruler("x").ticks(ticks, [when(points[i - 1].get("timestamp"))[11:16] for i in ticks])
    return figure.build().string(colorless=not color)


def access_log_settings(s: dict) -> str:
    lines = [
        f"access logs {'on' if s.get('enabled') else 'off'}, retention {cell(s.get('retentionDays'))} days"
    ]
    role = s.get("accountRole") or {}
    if role:
        kept = " (kept: it was already set on the account)" if role.get("kept") else ""
        lines.append(f"  API Gateway's CloudWatch role {role.get('arn')}{kept}")
    columns: list[Column] = [
        ("api", lambda a: a.get("apiId")),
        ("stage", lambda a: a.get("stage")),
        ("log group", lambda a: a.get("logGroup")),
    ]
    lines.append(
        "\n".join("  " + x for x in table(s.get("apis", []), columns, empty="no REST APIs").splitlines())
    )
    return "\n".join(lines)


def auto_rollback(s: dict) -> str:
    settings = {k: v for k, v in s.items() if k not in ("enabled", "alarms")}
    lines = [f"auto-rollback {'on' if s.get('enabled') else 'off'}"]
    lines += [f"  {k:<16} {cell(v)}" for k, v in sorted(settings.items())]
    columns: list[Column] = [
        ("alarm", lambda a: a.get("name")),
        ("state", lambda a: a.get("state")),
        ("metric", lambda a: a.get("metric")),
    ]
    if s.get("alarms") or s.get("enabled"):
        lines.append(
            "\n".join("  " + x for x in table(s.get("alarms", []), columns, empty="no alarms").splitlines())
        )
    return "\n".join(lines)


def functions(body: dict) -> str:
    columns: list[Column] = [
        ("function", lambda f: f.get("logicalId")),
        ("name", lambda f: f.get("functionName")),
        ("live version", lambda f: f.get("version")),
    ]
    return table(body.get("functions", []), columns, empty="no functions")
