"""HTTP API route and stage selection (localcloud.gateway.http_routes), as API Gateway documents it,
without a cloud."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from localcloud.gateway.http_routes import choose_stage, match_route


def api(*route_keys: str, stages: tuple[str, ...] = ("$default",)) -> SimpleNamespace:
    routes = {str(n): SimpleNamespace(route_key=k, target=f"integrations/{n}") for n, k in enumerate(route_keys)}
    return SimpleNamespace(routes=routes, stages={s: SimpleNamespace(name=s) for s in stages})


ROUTES = api("GET /items/{id}", "GET /items/special", "ANY /items/{id}", "ANY /{proxy+}", "POST /items", "$default")


@pytest.mark.parametrize(
    "method,path,key,params",
    [
        ("GET", "items/special", "GET /items/special", {}),  # a literal segment beats a parameter
        ("GET", "items/42", "GET /items/{id}", {"id": "42"}),  # a method beats ANY
        ("PUT", "items/42", "ANY /items/{id}", {"id": "42"}),
        ("DELETE", "a/b/c", "ANY /{proxy+}", {"proxy": "a/b/c"}),  # greedy last
        ("POST", "items", "POST /items", {}),
        ("GET", "", "$default", {}),  # nothing else matches /
    ],
)
def test_given_overlapping_routes_then_the_most_specific_one_is_chosen(method, path, key, params):
    match = match_route(ROUTES, method, [s for s in path.split("/") if s])
    assert match is not None and match.route_key == key and match.path_params == params


def test_given_no_route_and_no_default_route_then_nothing_matches():
    assert match_route(api("GET /a"), "GET", ["b"]) is None
    assert match_route(api("GET /a/{id}"), "GET", ["a"]) is None  # a parameter needs its segment


def test_given_named_and_default_stages_then_a_first_segment_naming_a_stage_selects_it():
    both = api(stages=("$default", "prod"))
    stage, name, rest = choose_stage(both, ["prod", "items"])
    assert (name, rest) == ("prod", ["items"])
    stage, name, rest = choose_stage(both, ["items", "1"])
    assert (name, rest) == ("$default", ["items", "1"])
    assert choose_stage(api(stages=("prod",)), ["items"]) is None
