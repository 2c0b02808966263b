"""API body validation names the offending field."""

import pytest

from sprout.domain.errors import InvalidInput
from sprout.schemas import validate


def test_given_a_complete_app_when_validated_then_it_passes():
    validate("app", {"name": "notes", "repository": "notes", "templatePath": "template.yaml",
                     "stages": [{"name": "dev", "branch": "main", "autoDeploy": True}, {"name": "prod"}]})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"repository": "notes"}, "name"),
        ({"name": "notes"}, "repository"),
        ({"name": "Notes!", "repository": "notes"}, "name"),
        ({"name": "notes", "repository": "notes", "stages": [{"branch": "main"}]}, "stages.0.name"),
        ({"name": "notes", "repository": "notes", "stages": [{"name": "dev", "autoDeploy": "yes"}]}, "stages.0.autoDeploy"),
        ({"name": "notes", "repository": "notes", "colour": "green"}, "colour"),
        ({"name": "notes", "repository": "notes", "templatePath": "/abs.yaml"}, "templatePath"),
        ({"name": "notes", "repository": "notes", "stages": []}, "stages"),
    ],
)
def test_given_a_bad_app_when_validated_then_the_error_names_the_field(body, field):
    with pytest.raises(InvalidInput) as caught:
        validate("app", body)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


@pytest.mark.parametrize("body", [{}, {"branch": "main", "commit": "a" * 40}])
def test_given_neither_or_both_of_branch_and_commit_when_validated_then_it_says_give_one(body):
    with pytest.raises(InvalidInput) as caught:
        validate("build_request", body)
    assert caught.value.field == "branch or commit"


def test_given_a_short_commit_when_validated_then_commit_is_named():
    with pytest.raises(InvalidInput) as caught:
        validate("build_request", {"commit": "abc123"})
    assert caught.value.field == "commit"


@pytest.mark.parametrize(
    ("schema", "body", "field"),
    [
        ("promote_request", {"changesetId": "x" * 3000}, "changesetId"),
        ("promote_request", {"x" * 3000: 1}, None),
        ("build_request", {"branch": ["x" * 3000]}, "branch"),
    ],
)
def test_given_a_3000_character_value_or_field_when_refused_then_the_message_echoes_a_short_prefix(schema, body, field):
    with pytest.raises(InvalidInput) as refused:
        validate(schema, body)
    # THEN the field is named (an unknown one cut like any value) and no more than 40 characters of it come back
    assert refused.value.field == field or refused.value.field.startswith("x" * 40)
    assert "x" * 41 not in str(refused.value) and len(str(refused.value)) < 300, str(refused.value)
