"""``demo-report.html``: one self-contained page (works offline: no script, no CDN, the chart an
embedded PNG drawn with matplotlib) — the outcome, the measured times, a chart of the traffic the
demo sent to prod (requests, 5xx, latency a second) marked with the promotes and rollbacks, the
timeline, and every command with its output."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: draw to a PNG in memory
import matplotlib.pyplot as plt  # noqa: E402

from demo.console import Timeline  # noqa: E402
from demo.traffic import Sample  # noqa: E402

COLOURS = {"promote": "#1f6feb", "rollback": "#2da44e", "auto-rollback": "#8250df"}


def chart(tl: Timeline, samples: list[Sample]) -> bytes:
    """Requests and 5xx answers per second, and latency (median and max per second), over the run."""
    per_second: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        per_second[int(tl.since(s.sent))].append(s)
    seconds = sorted(per_second)
    fig, (counts, latency) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 2]})
    if seconds:
        ok = [sum(1 for s in per_second[t] if s.status < 500) for t in seconds]
        bad = [sum(1 for s in per_second[t] if s.status >= 500 or s.status == 0) for t in seconds]
        counts.bar(seconds, ok, width=1.0, align="edge", color="#8cc7a1", label="answered (2xx/4xx)")
        counts.bar(seconds, bad, width=1.0, align="edge", bottom=ok, color="#d1242f", label="5xx")
        ms = [sorted(s.latency_ms for s in per_second[t]) for t in seconds]
        mid = [t + 0.5 for t in seconds]
        latency.plot(mid, [v[len(v) // 2] for v in ms], color="#57606a", lw=1.2, label="median")
        latency.plot(mid, [v[-1] for v in ms], color="#bf8700", lw=0.8, ls="--", label="max")
    # the chart starts a little before prod's first deployment: before it there is nothing to show
    starts = [tl.since(m.at) for m in tl.marks] + [tl.since(s.sent) for s in samples]
    left = max(0.0, min(starts) - 3) if starts else 0.0
    counts.set_xlim(left=left)
    for n, (at, step) in enumerate(tl.begins):  # where each step of the story began, under the chart
        if at < left:
            continue
        latency.axvline(at, color="#d0d7de", lw=0.8, ls=":")
        latency.annotate(f"step {step}", (at, 0.03 + 0.14 * (n % 3)), xycoords=("data", "axes fraction"),
                         fontsize=7, color="#57606a", ha="left", va="bottom")
    for n, mark in enumerate(tl.marks):
        x, colour = tl.since(mark.at), COLOURS.get(mark.kind, "black")
        for axis in (counts, latency):
            axis.axvline(x, color=colour, lw=1.4)
            axis.axvspan(x, max(x, tl.since(mark.until)), color=colour, alpha=0.12, lw=0)
        # labels above the chart, staggered so that close marks do not overwrite each other
        counts.annotate(mark.label, (x, 1.02 + 0.09 * (n % 2)), xycoords=("data", "axes fraction"),
                        fontsize=8, color=colour, ha="center", va="bottom", annotation_clip=False)
    counts.set_ylabel("requests / s")
    counts.set_title("Steady traffic on prod: signed POST /notes sent by the demo", pad=32)
    counts.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    latency.set_ylabel("latency (ms)")
    latency.set_yscale("log")
    latency.set_xlabel("seconds since the demo started (a line: a deployment starts; shaded: until it finished)")
    latency.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def write(path: Path, tl: Timeline, samples: list[Sample], failure: str | None) -> Path:
    png = base64.b64encode(chart(tl, samples)).decode()
    e = html.escape
    outcome = (f'<p class="bad">The demo FAILED: {e(failure)}</p>' if failure
               else '<p class="good">Every step behaved as the story says.</p>')
    figures = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in tl.figures.items())
    codes = defaultdict(int)
    for s in samples:
        codes[s.status] += 1
    traffic = ", ".join(f"{n} × {code or 'no answer'}" for code, n in sorted(codes.items()))
    rows = "".join(
        f'<tr class="{"" if x.ok else "bad"}"><td>{x.at:.1f} s</td><td>{e(x.step)}</td><td>{e(x.result)}</td></tr>'
        for x in tl.entries)
    commands = "".join(
        f"<details><summary>step {e(c.step)}: <code>{e(' '.join(c.argv))}</code> "
        f"({c.seconds:.1f} s, exit {c.returncode})</summary><pre>{e(c.output) or '(no output)'}</pre></details>"
        for c in tl.commands)
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sprout demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #d0d7de; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
.good {{ color: #1a7f37; font-weight: bold; }} .bad {{ color: #cf222e; font-weight: bold; }}
pre {{ background: #f6f8fa; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Sprout: <code>make demo</code></h1>
{outcome}
<p>The seed's story on the local cloud (IAM enforced), through the <code>sprout</code> CLI, <code>git push</code>
and signed HTTP calls to the notes app. Traffic the demo sent to prod: {e(traffic) or 'none'}.</p>
<table>{figures}</table>
<img alt="requests, 5xx and latency on prod over the run" src="data:image/png;base64,{png}">
<h2>Timeline</h2>
<table><tr><th>time</th><th>step</th><th>result</th></tr>{rows}</table>
<h2>Commands and their output</h2>
{commands}
</body></html>
""")
    return path
