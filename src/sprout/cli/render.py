"""What the CLI prints for people: tables, change sets, stages, deployments, log lines, charts.

Pure functions from the API's JSON answers to text; ``--json`` prints
the JSON itself instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sprout.domain.changeset import masked_config

Column = tuple[str, Callable[[dict], Any]]


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return " ".join(str(value).split())


def table(rows: Iterable[dict], columns: Sequence[Column], empty: str = "(none)") -> str:
    """Rows as aligned columns under a header; numbers right-aligned; ``empty`` when no rows."""
    cells = [[cell(get(row)) for _, get in columns] for row in rows]
    if not cells:
        return empty
    numeric = [all(_is_number(r[i]) for r in cells) for i in range(len(columns))]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, (h, _) in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line([h for h, _ in columns]), *(line(r) for r in cells)])


def _is_number(text: str) -> bool:
    return text == "-" or text.replace(".", "", 1).lstrip("-").isdigit()


def when(iso: str | None) -> str:
    """``2026-12-02T10:31:29.123Z`` → ``2026-12-02 10:31:29``."""
    if not iso:
        return "-"
    return str(iso).replace("T", " ").split(".")[0].rstrip("Z")


def duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def first_line(text: str | None) -> str:
    return text.splitlines()[0] if text else ""


def trigger(t: dict | None) -> str:
    if not t:
        return "-"
    return f"{t.get('type', '?')}" + (f" ({t['by']})" if t.get("by") else "")


# ---- builds --------------------------------------------------------------------------------------


def builds(body: dict) -> str:
    rows = body.get("builds", [])
    columns: list[Column] = [
        ("#", lambda b: b["number"]),
        ("status", lambda b: b["status"] + (" quarantined" if b.get("quarantined") else "")),
        ("commit", lambda b: (b.get("commitId") or "")[:12]),
        ("branch", lambda b: b.get("branch")),
        ("live on", lambda b: ", ".join(b.get("liveOn") or [])),
        ("created", lambda b: when(b.get("createdAt"))),
        ("message", lambda b: first_line(b.get("message"))[:60]),
    ]
    return table(rows, columns, empty="no builds yet") + _more(body)


def build(b: dict) -> str:
    lines = [f"build {b['number']}  {b['status']}" + ("  QUARANTINED" if b.get("quarantined") else "")]
    lines.append(f"  commit   {b.get('commitId')}  ({b.get('branch') or 'no branch'})")
    if b.get("message"):
        lines.append(f"  message  {first_line(b['message'])}")
    if b.get("author"):
        lines.append(f"  author   {b['author']}")
    for f in b.get("functions", []):
        lines.append(f"  function {f['logicalId']:<28} sha256 {f['sha256'][:16]}…")
        variables = ((masked_config(f.get("config")) or {}).get("Environment") or {}).get("Variables") or {}
        if variables:
            lines.append("           environment " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items())))
    if b.get("failure"):
        f = b["failure"]
        lines.append(f"  FAILED at {f.get('step')}: {f.get('error')}: {f.get('cause')}")
    for stage, d in (b.get("deployedTo") or {}).items():
        lines.append(f"  deployed to {stage} (deployment {d['id']}, {d['status']})")
    if b.get("liveOn"):
        lines.append(f"  live on  {', '.join(b['liveOn'])}")
    if b.get("rolledBackFrom"):
        lines.append(f"  rolled back from {', '.join(b['rolledBackFrom'])}")
    lines += _build_notes(b)
    return "\n".join(lines)


def _build_notes(b: dict) -> list[str]:
    """Physical names fixed for every stage, dependencies resolved without a lockfile."""
    lines = []
    for name in b.get("fixedNames") or []:
        lines.append(
            f"  fixed name {name.get('logicalId')} {name.get('property')} {cell(name.get('name'))}: the same for every "
            "stage, so a second stage collides (name it !Sub ${AWS::StackName}-…)"
        )
    for r in b.get("resolvedWithoutLockfile") or []:
        lines.append(
            f"  {r.get('manifest')}: resolved without a lockfile: not reproducible; commit this lockfile: "
            f"sprout builds lockfile {b.get('app')} {b.get('number')} {r.get('manifest')} > {r.get('lockfile')}"
        )
    return lines


def apps(body: dict) -> str:
    columns: list[Column] = [
        ("app", lambda a: a["name"]),
        ("repository", lambda a: a.get("repository")),
        ("stages", lambda a: " → ".join(s["name"] for s in a.get("stages", []))),
        ("created", lambda a: when(a.get("createdAt"))),
    ]
    return table(body.get("apps", []), columns, empty="no apps registered yet")


def app(a: dict) -> str:
    lines = [f"app {a['name']}  repository {a.get('repository')}  template {a.get('templatePath') or '-'}"]
    for s in a.get("stages", []):
        follows = f"follows {s['branch']}" if s.get("branch") else "promote-only"
        auto = ", auto-deploy" if s.get("autoDeploy") else ""
        lines.append(f"  stage {s['name']:<12} {follows}{auto}")
    return "\n".join(lines)


def _more(body: dict) -> str:
    return f"\n(more: --next-token {body['nextToken']})" if body.get("nextToken") else ""


# ---- stages, deployments, change sets ------------------------------------------------------------


def deployment_line(d: dict) -> str:
    """One line for a deployment: ``promote of build 3 to prod SUCCEEDED in 2.4 s (deployment 000007)``."""
    took = f" in {duration(d['durationMs'])}" if d.get("durationMs") is not None else ""
    text = f"{d.get('kind', 'deploy')} of build {d.get('build')} to {d.get('stage')} {d.get('status')}{took}"
    text += f" (deployment {d.get('id')})"
    if d.get("status") == "FAILED":
        text += f": failed at {d.get('step') or '?'}: {cell(d.get('error'))}"
    return text


def deployments(body: dict) -> str:
    columns: list[Column] = [
        ("id", lambda d: d["id"]),
        ("kind", lambda d: d.get("kind")),
        ("build", lambda d: d.get("build")),
        ("status", lambda d: d.get("status")),
        ("trigger", lambda d: trigger(d.get("trigger"))),
        ("started", lambda d: when(d.get("startedAt"))),
        ("took", lambda d: duration(d.get("durationMs"))),
        ("replaces", lambda d: d.get("replaces")),
        (
            "error",
            lambda d: (
                (f"{d.get('step')}: " if d.get("step") else "") + cell(d.get("error"))[:60]
                if d.get("error")
                else None
            ),
        ),
    ]
    return table(body.get("deployments", []), columns, empty="no deployments yet") + _more(body)


def deployment(d: dict) -> str:
    lines = [deployment_line(d)]
    lines.append(f"  trigger   {trigger(d.get('trigger'))}")
    lines.append(f"  started   {when(d.get('startedAt'))}   finished {when(d.get('finishedAt'))}")
    if d.get("replaces"):
        lines.append(f"  replaces  deployment {d['replaces']}")
    if d.get("execution"):
        lines.append(f"  execution {d['execution']}")
    for note in d.get("notes") or []:
        lines.append(f"  note      {note}")
    if (d.get("cause") or {}).get("advice"):
        lines.append(f"  to do     {d['cause']['advice']}")
    if d.get("reconciled"):
        lines.append(f"  repaired  {when(d['reconciled'].get('at'))}: {d['reconciled'].get('why')}")
    for logical_id, version in sorted((d.get("versions") or {}).items()):
        lines.append(f"  {logical_id:<28} version {version}")
    lines += canary_lines(d)
    return "\n".join(lines)


def canary_lines(d: dict) -> list[str]:
    """A canary or linear promote's strategy and steps: weight, started, judged, the new version's
    requests and errors, the verdict."""
    strategy = d.get("strategy") or {}
    if strategy.get("type") in (None, "allAtOnce"):
        return []
    canary = d.get("canary") or {}
    lines = [f"  strategy  {strategy.get('preset') or strategy['type']}: steps {strategy.get('steps')} % every "
             f"{strategy.get('intervalSeconds')} s" + (f"   ({canary['state']})" if canary.get("state") else "")]
    for lid, version in sorted((canary.get("versions") or {}).items()):
        lines.append(f"  canary    {lid:<28} version {(canary.get('previous') or {}).get(lid)} -> {version}")
    for step in d.get("steps") or []:
        lines.append(f"  step {step.get('index', 0) + 1:<4} {step.get('weight')} %  started {when(step.get('startedAt'))}  "
                     f"judged {when(step.get('judgedAt'))}  new version {step.get('requests')} requests, "
                     f"{step.get('errors')} errors  {step.get('verdict') or ''}")
    if d.get("control"):
        lines.append(f"  asked     {d['control'].get('action')} by {d['control'].get('by')}")
    return lines


def reconciled(r: dict) -> str:
    """``sprout reconcile``: what the record said, what the stack and aliases say, what was repaired."""
    stack = r.get("stack") or {}
    record = r.get("record")
    lines = [f"{r.get('app')}/{r.get('stage')}  stack {stack.get('name')} {stack.get('status') or '(none)'}"]
    lines.append("  record    " + (f"deployment {record['deployment']} (build {record['build']}, {record['status']})"
                                   if record else "nothing runs"))
    aliases, said = r.get("aliases"), (record or {}).get("versions") or {}
    if aliases is not None:
        for logical_id in sorted(set(aliases) | set(said)):
            mark = "" if aliases.get(logical_id) == said.get(logical_id) else "   <- differs"
            lines.append(f"  {logical_id:<28} record {said.get(logical_id, '-')}  live {aliases.get(logical_id, '-')}{mark}")
    for fix in r.get("repaired") or []:
        lines.append(f"  repaired  deployment {fix['deployment']} (build {fix['build']}): {fix['was']} -> {fix['now']}, current")
    if (stack.get("cause") or {}).get("advice"):
        lines.append(f"  to do     {stack['cause']['advice']}")
    lines.append(f"  {r.get('message') or ''}")
    return "\n".join(lines)


def stage(s: dict) -> str:
    follows = f"follows {s['branch']}" if s.get("branch") else "promote-only"
    auto = ", auto-deploy" if s.get("autoDeploy") else ""
    lines = [f"{s.get('app')}/{s.get('name')}  {follows}{auto}  stack {s.get('stackName') or '-'}"]
    b = s.get("build")
    if b:
        lines.append(
            f"  build      {b['number']} {(b.get('commitId') or '')[:12]} {first_line(b.get('message'))}"
        )
    else:
        lines.append("  build      none: never deployed")
    d = s.get("currentDeployment")
    if d:
        lines.append(
            f"  deployment {deployment_line(d)}, {trigger(d.get('trigger'))}, {when(d.get('startedAt'))}"
        )
    lock = s.get("lock")
    if lock:
        lines.append(
            f"  lock       held by deployment {lock.get('deployment')} since {when(lock.get('since'))}, "
            f"lease until {when(lock.get('expiresAt'))} (execution {lock.get('execution')})"
        )
    else:
        lines.append("  lock       free")
    watched = s.get("autoRollback") or {}
    lines.append(f"  auto-rollback {'on' if watched.get('enabled') else 'off'}")
    columns: list[Column] = [
        ("function", lambda f: f["logicalId"]),
        ("name", lambda f: f.get("functionName")),
        ("live version", lambda f: f.get("version")),
        ("sha256", lambda f: (f.get("sha256") or "")[:16]),
    ]
    lines.append(_indent(table(s.get("functions", []), columns, empty="no functions")))
    return "\n".join(lines)


KIND_TITLES = {
    "function-added": "functions added",
    "function-removed": "functions removed",
    "code-changed": "code changed",
    "config-changed": "configuration changed",
    "resource-added": "resources added",
    "resource-modified": "resources modified",
    "resource-removed": "resources removed",
}


def configuration_lines(config: dict | None) -> list[str]:
    """A change set's configuration (settings and secrets, issue 22): parameters old → new, the
    keys the template does not declare, the parameters without a value."""
    if not config:
        return []
    lines = []
    for ch in config.get("changes") or []:
        lines.append(f"  parameter {ch.get('key')} ({ch.get('source')}): {cell(ch.get('before'))} → {cell(ch.get('after'))}")
    if lines:
        lines.insert(0, "configuration:")
    if config.get("unused"):
        lines.append(f"  warning: not declared by the template (unused): {', '.join(config['unused'])}")
    if config.get("error"):
        lines.append(f"  ! {config['error']}")
    return lines


def changeset(c: dict) -> str:
    """A summary line, the changes grouped by kind (major ones marked ``! MAJOR``), the commits."""
    current = c.get("current") or {}
    now = f"build {current['build']}" if current.get("build") is not None else "nothing deployed"
    changes = c.get("changes", [])
    major = sum(1 for ch in changes if ch.get("class") == "major")
    lines = [
        f"{c.get('app')}/{c.get('stage')}: {now} → build {c.get('build')}: {c.get('summary') or ''}".rstrip()
    ]
    counts = f"{len(changes)} change{'s' if len(changes) != 1 else ''}, {major} major"
    lines.append(counts + (" — confirm required" if c.get("confirmRequired") else ""))
    issues = c.get("openIssues") or {}
    if issues.get("issues"):
        lines.append(f"! {cell(issues.get('summary'))}")
    kinds = list(KIND_TITLES) + sorted({ch.get("kind", "?") for ch in changes} - set(KIND_TITLES))
    for kind in kinds:
        group = [ch for ch in changes if ch.get("kind", "?") == kind]
        if not group:
            continue
        lines.append(f"{KIND_TITLES.get(kind, kind)}:")
        for ch in group:
            mark = "! MAJOR" if ch.get("class") == "major" else "  minor"
            lines.append(
                f"  {mark}  {ch.get('logicalId', '?'):<28} {ch.get('type') or '':<30} {cell(ch.get('detail'))}"
            )
    if not changes:
        lines.append("no changes")
    collisions = c.get("collisions") or []
    if collisions:
        lines.append("physical names another stage already holds (name them per stage: !Sub ${AWS::StackName}-…):")
    for name in collisions:
        lines.append(
            f"  ! COLLIDES  {name.get('logicalId', '?'):<24} {name.get('property', ''):<16} "
            f"{cell(name.get('name'))} (held by {name.get('stage')})"
        )
    lines += configuration_lines(c.get("configuration"))
    commits = c.get("commits", [])
    lines.append(f"commits ({len(commits)}, newest first):" if commits else "commits: none in between")
    width = max((len(commit.get("author") or "-") for commit in commits), default=0)
    for commit in commits:
        author = commit.get("author") or "-"
        lines.append(
            f"  {(commit.get('id') or '')[:8]}  {author:<{width}}  {first_line(commit.get('message'))}"
        )
    lines.append(f"change set {c.get('changesetId')}")
    return "\n".join(lines)


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())
