"""make demo's pure parts: demo-report.html works offline (one file, the chart an embedded PNG, nothing
fetched), and step 8's probe for auto-rollback."""

from __future__ import annotations

import base64
import re

from demo import report
from demo.console import Timeline
from demo.traffic import Sample


def a_run() -> tuple[Timeline, list[Sample]]:
    tl = Timeline(started=1000.0)
    tl.begins += [(0.0, "1"), (30.0, "2"), (45.0, "4")]
    tl.mark(1031.0, 1033.0, "promote #1", "promote")
    tl.mark(1046.0, 1048.0, "promote #2", "promote")
    tl.mark(1052.0, 1055.0, "rollback #1", "rollback")
    samples = [Sample(1034 + i / 5, 1034 + i / 5 + 0.02, 502 if 48 <= 34 + i / 5 < 53 else 200, 20.0)
               for i in range(150)]
    tl.step = "7"
    tl.record("rollback call → first 200: 0.40 s")
    tl.figure("hand rollback: call → first 200", "0.40 s")
    return tl, samples


def test_given_a_run_when_the_report_is_written_then_it_is_self_contained_with_a_png_chart(tmp_path):
    tl, samples = a_run()
    # WHEN the report is written
    page = report.write(tmp_path / "demo-report.html", tl, samples, failure=None).read_text()
    # THEN the chart is a PNG inside the page
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    # AND nothing is loaded from elsewhere (no script, stylesheet or image by URL)
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page
    # AND the timeline, the figures and the traffic's answers are in it
    assert "rollback call → first 200: 0.40 s" in page and "hand rollback: call → first 200" in page
    assert "125 × 200" in page and "25 × 502" in page
    assert "Every step behaved as the story says." in page


def test_given_a_failed_run_when_the_report_is_written_then_it_says_so_escaped(tmp_path):
    tl, samples = a_run()
    page = report.write(tmp_path / "r.html", tl, samples, failure="expected 502, got <200>").read_text()
    assert "The demo FAILED: expected 502, got &lt;200&gt;" in page
    assert "Every step behaved" not in page


class FakeDemo:
    """Stands in for demo.story.Demo where step 8 probes Sprout's API."""

    def __init__(self, answer: Exception | dict):
        self.answer = answer

    def get(self, path: str, **query):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_given_the_api_answers_the_probe_when_asked_then_auto_rollback_is_available_or_not_or_the_demo_fails():
    from demo.auto_rollback import auto_rollback_available
    from demo.console import DemoFailed
    from sprout.cli.client import ApiError

    # GIVEN the route (200), API Gateway's answer for a path it has no resource for (403), a 404
    assert auto_rollback_available(FakeDemo({"enabled": False, "alarms": []})) is True
    assert auto_rollback_available(FakeDemo(ApiError(403, {"message": "Missing Authentication Token"}))) is False
    assert auto_rollback_available(FakeDemo(ApiError(404, {"message": "no route"}))) is False
    # AND anything else fails the demo rather than skipping step 8
    for surprise in (ApiError(500, {"message": "boom"}), ApiError(403, {"message": "not allowed"})):
        try:
            auto_rollback_available(FakeDemo(surprise))
        except DemoFailed as e:
            assert str(surprise.status) in str(e)
        else:
            raise AssertionError(f"{surprise} was taken as an answer")
