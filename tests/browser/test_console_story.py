"""The story through the console, in headless Chromium, against the local cloud: build 1 on dev,
promoted to prod with its change set confirmed, the broken build 2 promoted, its 502s found in the
access logs, the cause in the `create` function's error logs, the 5xx chart, and the Rollback
button putting prod back on build 1. Every page is saved under test-artifacts/console/."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
import uuid

import pytest
from playwright.sync_api import expect

from sprout.cli.client import ApiError, SproutClient
from tests.browser.conftest import shot
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app

BROKEN = "    gibberish.what  # the story's broken line\n"


@pytest.fixture(scope="module")
def story(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app registered with dev (follows main) and prod (promote only); build 1 on dev."""
    app = registered_app(cloud, api, f"console-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("console"))
    app.commit_and_push("The notes app")
    app.wait_build(1)
    return app


def post_note(app: AppRepo) -> int:
    try:
        SproutClient(app.stage_url("prod"), timeout=30).request("POST", "/notes", {"content": "hello"})
        return 200
    except ApiError as e:
        return e.status


def promote_through_the_console(page, app: AppRepo, build: int, screenshot: str | None = None) -> None:
    """Pipeline → Promote to prod… → the change set → (confirm) → the deployment page until it ends."""
    page.goto(f"/apps/{app.name}")
    prod = page.locator("[data-stage=prod]")
    prod.get_by_label("Build").fill(str(build))
    prod.get_by_role("button", name="Promote to prod…").click()
    expect(page.get_by_role("heading", name=f"Promote build {build} to prod")).to_be_visible()
    if screenshot:
        shot(page, screenshot)
    confirm = page.get_by_label("I have read the change set: it has major changes")
    if confirm.count():
        confirm.check()
    page.get_by_role("button", name=f"Promote build {build} to prod").click()
    expect(page.locator(".deployment-status")).to_contain_text("SUCCEEDED", timeout=120_000)


def test_given_build_1_on_dev_when_the_console_opens_then_apps_and_the_pipeline_show_it(page, story):
    # WHEN the apps page is opened
    page.goto("/")
    expect(page.get_by_role("link", name=story.name)).to_be_visible()
    shot(page, "01-apps")
    # THEN the app's pipeline shows build 1 on dev, nothing on prod yet
    page.get_by_role("link", name=story.name).click()
    expect(page.locator("[data-stage=dev] .build-number")).to_have_text("1")
    expect(page.locator("[data-stage=prod]")).to_contain_text("Nothing deployed yet")
    expect(page.locator("tr[data-build='1']")).to_contain_text("dev")
    shot(page, "02-pipeline")


def test_given_prods_change_set_when_confirmed_then_build_1_is_promoted_and_followed_until_it_ends(page, story):
    # GIVEN the change set of build 1 for an empty prod: functions added, major, so a confirm is required
    page.goto(f"/apps/{story.name}")
    page.locator("[data-stage=prod]").get_by_role("button", name="Promote to prod…").click()
    expect(page.locator(".changeset .summary")).to_be_visible()
    expect(page.locator("h3.class-major")).to_be_visible()
    expect(page.locator(".changes")).to_contain_text("function-added")
    shot(page, "03-changeset")
    # WHEN promote is pressed without the confirm, the browser does not send it (the box is required)
    page.get_by_role("button", name="Promote build 1 to prod").click()
    expect(page).to_have_url(f"{page.url}")
    # AND with the confirm ticked it is sent, with the keyboard alone (Space ticks, Tab, Enter presses);
    # the deployment page follows it until it ends
    page.get_by_label("I have read the change set: it has major changes").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Promote build 1 to prod")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Promote of build 1 to prod")
    expect(page.locator(".deployment-status")).to_contain_text("SUCCEEDED", timeout=120_000)
    shot(page, "04-deployment")
    # THEN the pipeline shows build 1 on prod
    page.goto(f"/apps/{story.name}")
    expect(page.locator("[data-stage=prod] .build-number")).to_have_text("1")
    assert post_note(story) == 200


def test_given_the_broken_build_on_prod_when_monitored_then_502s_the_nameerror_and_the_5xx_chart_show(page, story):
    # GIVEN build 2 breaks create, is built onto dev and promoted to prod (auto-rollback off, so it stays)
    create = story.work / "functions" / "create" / "create.py"
    marker = "def main(event, context):\n"
    create.write_text(create.read_text().replace(marker, marker + BROKEN, 1))
    story.commit_and_push("Break create")
    story.wait_build(2)
    story.api.request("PUT", f"/apps/{story.name}/stages/prod/auto-rollback", {"enabled": False})
    story.api.request("PUT", f"/apps/{story.name}/stages/prod/access-logs", {"enabled": True})
    promote_through_the_console(page, story, 2, screenshot="05-changeset-minor")
    statuses = [post_note(story) for _ in range(4)]
    assert statuses == [502] * 4
    # WHEN the stage's access logs are filtered to 5xx
    page.goto(f"/apps/{story.name}/stages/prod")
    page.get_by_label("Window").select_option("15m")
    page.get_by_label("Access-log status").select_option("5xx")
    page.get_by_role("button", name="Show").click()
    deadline = time.monotonic() + 60
    while "502" not in page.locator("table.access-logs").inner_text() and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    # THEN they show the 502s, and nothing else
    cells = page.locator("table.access-logs td.http-status").all_inner_texts()
    assert len(cells) >= 4 and set(cells) == {"502"}, cells
    # AND the 5xx chart has points (reloaded while the metrics arrive)
    while page.locator("#api-5xx").get_attribute("data-nonzero") in (None, "0") and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    assert int(page.locator("#api-5xx").get_attribute("data-nonzero")) > 0
    expect(page.locator("#api-5xx")).to_have_attribute("data-rendered", "true")
    shot(page, "06-stage-monitoring")
    # AND the create function's errors-only logs name the cause
    page.goto(f"/apps/{story.name}/stages/prod/functions/create?since=15m")
    page.get_by_label("Errors only").check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"errors=1"))
    expect(page.locator("table.function-logs")).to_contain_text("NameError", timeout=30_000)
    expect(page.locator("table.function-logs")).to_contain_text("gibberish")
    shot(page, "07-function-errors")


def test_given_prod_broken_when_rollback_is_pressed_then_prod_runs_build_1_again(page, story):
    # WHEN Rollback is pressed on prod, with its default target (the previous good deployment) confirmed
    page.goto(f"/apps/{story.name}")
    page.get_by_role("link", name="Rollback prod…").click()
    expect(page.get_by_label("Roll back prod")).to_be_visible()
    expect(page.locator("label[for=target-default]")).to_contain_text("build 1")
    shot(page, "08-rollback")
    page.get_by_label("Roll back prod").check()
    page.get_by_role("button", name="Rollback").click()
    expect(page.locator(".deployment-status")).to_contain_text("SUCCEEDED", timeout=120_000)
    # THEN prod shows build 1 again, and answers from it
    page.goto(f"/apps/{story.name}")
    expect(page.locator("[data-stage=prod] .build-number")).to_have_text("1")
    shot(page, "09-pipeline-after-rollback")
    assert post_note(story) == 200
    # AND the deployments timeline and build 2's page say what happened
    page.goto(f"/apps/{story.name}/stages/prod/deployments")
    expect(page.locator("tr.kind-rollback").first).to_contain_text("SUCCEEDED")
    expect(page.locator("tr.kind-promote")).to_have_count(2)
    shot(page, "10-deployments")
    page.goto(f"/apps/{story.name}/builds/2")
    expect(page.locator("dl.facts")).to_contain_text("Rolled back from")
    shot(page, "11-build")


def test_given_a_foreign_origin_or_host_when_the_console_is_called_then_it_refuses_with_403(page, story, console_url):
    # GIVEN a real session (cookie and token) in the browser
    page.goto(f"/apps/{story.name}/stages/prod/rollback")
    token = page.locator("input[name=csrf]").input_value()
    # WHEN a POST with that session comes from another origin
    refused = page.request.post(f"/apps/{story.name}/stages/prod/rollback",
                                form={"csrf": token, "confirm": "yes"}, headers={"Origin": "http://evil.example"})
    # THEN it is refused before it reaches Sprout
    assert refused.status == 403 and "Origin" in refused.text()
    # AND a page whose Host is not the console's (DNS rebinding) is refused too
    port = urllib.parse.urlsplit(console_url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/", headers={"Host": f"rebound.example:{port}"})
    assert connection.getresponse().status == 403
    # AND a form on another site (served here as http://evil.example) posting to the console is refused
    evil = (f'<form method="post" action="{console_url}apps/{story.name}/stages/prod/rollback">'
            f'<input name="csrf" value="{token}"><input name="confirm" value="yes"><button>go</button></form>')
    page.route("http://evil.example/", lambda route: route.fulfill(status=200, content_type="text/html", body=evil))
    page.goto("http://evil.example/")
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert page.url.startswith(console_url) and "is not this console's: refused" in page.content()
    deployments = story.api.request("GET", f"/apps/{story.name}/stages/prod/deployments")["deployments"]
    assert deployments[0]["kind"] == "rollback" and len([d for d in deployments if d["kind"] == "rollback"]) == 1
