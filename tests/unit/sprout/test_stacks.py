"""The stage stack adapter's reading of CloudFormation's change set and stack states."""

import pytest
from botocore.exceptions import ClientError

from sprout.adapters.stacks import StageStacks
from sprout.domain.errors import DeployError, StackNotReady


class FakeCloudFormation:
    """An in-memory CloudFormation with just the calls StageStacks makes."""

    def __init__(self, change_set: dict, stack: dict | None = None, events: list | None = None,
                 resources: list | None = None):
        self.change_set = change_set
        self.stack = stack
        self.events = events or []
        self.resources = resources or []
        self.executed, self.deleted, self.created = [], [], []

    def describe_stack_resources(self, StackName):
        return {"StackResources": self.resources}

    def delete_stack(self, StackName):
        self.deleted.append(StackName)
        self.stack = {**self.stack, "StackStatus": "DELETE_COMPLETE"}

    def create_change_set(self, **kwargs):
        self.created.append(kwargs)
        return {"Id": "cs-new"}

    def describe_change_set(self, ChangeSetName):
        return self.change_set

    def execute_change_set(self, ChangeSetName):
        self.executed.append(ChangeSetName)

    def describe_stacks(self, StackName):
        if self.stack is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationError",
                        "Message": f"Stack with id {StackName} does not exist",
                    }
                },
                "DescribeStacks",
            )
        return {"Stacks": [self.stack]}

    def describe_stack_events(self, StackName):
        return {"StackEvents": self.events}


def progress(change_set, stack=None, events=None):
    cfn = FakeCloudFormation(change_set, stack, events)
    return StageStacks(cloudformation=cfn, lambda_client=object()).progress("cs-1"), cfn


def test_given_a_ready_change_set_when_followed_then_it_is_executed_once_and_in_progress():
    result, cfn = progress({"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "StackId": "s"})
    assert result.status == "IN_PROGRESS"
    assert cfn.executed == ["cs-1"]


def test_given_a_change_set_without_changes_when_followed_then_it_succeeds_unchanged():
    result, _ = progress(
        {
            "Status": "FAILED",
            "StatusReason": "The submitted information didn't contain changes.",
            "StackId": "s",
        },
        stack={"StackId": "s", "StackName": "s", "StackStatus": "UPDATE_COMPLETE"},
    )
    assert (result.status, result.changed) == ("SUCCEEDED", False)


STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/notes-dev/1"
CS = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/sprout-1/1"


def stack_event(logical_id, status, reason="", type_name="AWS::Lambda::Function"):
    event = {"LogicalResourceId": logical_id, "ResourceStatus": status, "ResourceType": type_name}
    return {**event, "ResourceStatusReason": reason} if reason else event


def stack_level(status, reason=""):
    return stack_event("notes-dev", status, reason, "AWS::CloudFormation::Stack")


# newest first, as DescribeStackEvents answers: an earlier failed update, then the latest one
ROLLED_BACK = [
    stack_level("UPDATE_ROLLBACK_COMPLETE"),
    stack_event("CreateFunction", "UPDATE_COMPLETE"),
    stack_event("ListFunction", "UPDATE_FAILED", "Resource update cancelled"),
    stack_event("CreateFunction", "UPDATE_FAILED", "Lambda refused: code too large"),
    stack_level("UPDATE_IN_PROGRESS", "User Initiated"),
    stack_event("OldFunction", "UPDATE_FAILED", "an older failure"),
    stack_level("UPDATE_IN_PROGRESS", "User Initiated"),
]


def test_given_an_executed_change_set_and_a_rolled_back_stack_when_followed_then_it_fails_with_the_first_cause():
    result, _ = progress(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_FAILED", "StackId": STACK,
         "StatusReason": "the stack rolled back"},
        stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_ROLLBACK_COMPLETE"},
        events=ROLLED_BACK,
    )
    assert result.status == "FAILED"
    assert result.cause == {"stackStatus": "UPDATE_ROLLBACK_COMPLETE", "logicalId": "CreateFunction",
                            "type": "AWS::Lambda::Function", "reason": "Lambda refused: code too large",
                            "changeSetReason": "the stack rolled back"}
    assert "CreateFunction (AWS::Lambda::Function) failed: Lambda refused: code too large" in result.reason
    assert "change set: the stack rolled back" in result.reason


def test_given_execute_failed_while_the_stack_still_rolls_back_when_followed_then_it_waits_for_the_rollback():
    result, _ = progress(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_FAILED", "StackId": STACK},
        stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_ROLLBACK_IN_PROGRESS"},
    )
    assert result.status == "IN_PROGRESS"


def test_given_a_stack_whose_rollback_failed_when_followed_then_it_fails_saying_how_to_continue_the_rollback():
    cfn = FakeCloudFormation(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_FAILED", "StackId": STACK},
        stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_ROLLBACK_FAILED"},
        events=ROLLED_BACK[3:],
        resources=[{"LogicalResourceId": "CreateFunction", "ResourceStatus": "UPDATE_FAILED"},
                   {"LogicalResourceId": "ListFunction", "ResourceStatus": "UPDATE_COMPLETE"}],
    )
    result = StageStacks(cloudformation=cfn, lambda_client=object()).progress("cs-1")
    assert result.status == "FAILED" and result.cause["resourcesToSkip"] == ["CreateFunction"]
    assert "continue-update-rollback --stack-name notes-dev --resources-to-skip CreateFunction" in result.reason


def test_given_no_changes_on_a_stack_whose_rollback_failed_when_followed_then_it_is_never_a_success():
    cfn = FakeCloudFormation(
        {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes.", "StackId": STACK},
        stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_ROLLBACK_FAILED"},
        resources=[{"LogicalResourceId": "CreateFunction", "ResourceStatus": "UPDATE_FAILED"}],
    )
    result = StageStacks(cloudformation=cfn, lambda_client=object()).progress("cs-1")
    assert result.status == "FAILED" and "UPDATE_ROLLBACK_FAILED" in result.reason


def test_given_cloudformation_does_not_answer_when_followed_then_it_raises_and_never_calls_it_failed():
    class Throttled(FakeCloudFormation):
        def describe_change_set(self, ChangeSetName):
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "DescribeChangeSet")

    stacks = StageStacks(cloudformation=Throttled({}), lambda_client=object())
    with pytest.raises(DeployError, match="Rate exceeded"):
        stacks.progress("cs-1")


@pytest.mark.parametrize(("stack", "expected"), [
    ({"StackStatus": "UPDATE_IN_PROGRESS", "ChangeSetId": CS}, ("IN_PROGRESS", True)),
    ({"StackStatus": "UPDATE_COMPLETE", "ChangeSetId": CS}, ("SUCCEEDED", True)),
    ({"StackStatus": "UPDATE_COMPLETE", "ChangeSetId": "an-earlier-one"}, ("FAILED", False)),
    ({"StackStatus": "UPDATE_ROLLBACK_COMPLETE", "ChangeSetId": CS}, ("FAILED", True)),
    (None, ("FAILED", False)),
])
def test_given_a_task_failed_when_settling_then_the_outcome_is_the_stacks_own(stack, expected):
    found = {"StackId": STACK, "StackName": "notes-dev", **stack} if stack else None
    cfn = FakeCloudFormation({"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "StackId": STACK},
                             stack=found, events=ROLLED_BACK)
    result = StageStacks(cloudformation=cfn, lambda_client=object()).settle("notes-dev", CS)
    assert (result.status, result.changed) == expected
    assert cfn.executed == []  # settling never starts anything


def test_given_a_failed_first_deploy_of_sprouts_when_cleared_then_it_is_deleted_saying_so_and_waited_for():
    cfn = FakeCloudFormation({}, stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "ROLLBACK_COMPLETE",
                                        "Tags": [{"Key": "sprout:stack", "Value": "notes-dev"}]},
                             events=[stack_level("ROLLBACK_COMPLETE"),
                                     stack_event("Table", "CREATE_FAILED", "table name taken", "AWS::DynamoDB::Table"),
                                     stack_level("CREATE_IN_PROGRESS", "User Initiated")])
    notes = []
    StageStacks(cloudformation=cfn, lambda_client=object()).clear_failed_first_deploy("notes-dev", notes.append)
    assert cfn.deleted == [STACK]
    assert len(notes) == 1 and "Table (AWS::DynamoDB::Table) failed: table name taken" in notes[0]


def test_given_a_failed_stack_sprout_did_not_create_when_cleared_then_it_is_left_alone_and_refused():
    cfn = FakeCloudFormation({}, stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "ROLLBACK_COMPLETE"})
    with pytest.raises(DeployError, match="did not create it"):
        StageStacks(cloudformation=cfn, lambda_client=object()).clear_failed_first_deploy("notes-dev", print)
    assert cfn.deleted == []


def test_given_a_stack_in_a_state_cloudformation_refuses_when_started_then_the_error_names_it_and_nothing_is_created():
    cfn = FakeCloudFormation({}, stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_ROLLBACK_FAILED"},
                             resources=[{"LogicalResourceId": "CreateFunction", "ResourceStatus": "UPDATE_FAILED"}])
    with pytest.raises(DeployError, match="UPDATE_ROLLBACK_FAILED.*continue-update-rollback"):
        StageStacks(cloudformation=cfn, lambda_client=object()).start("notes-dev", "s3://b/t", {}, None)
    busy = FakeCloudFormation({}, stack={"StackId": STACK, "StackName": "notes-dev", "StackStatus": "UPDATE_IN_PROGRESS"})
    with pytest.raises(StackNotReady):
        StageStacks(cloudformation=busy, lambda_client=object()).start("notes-dev", "s3://b/t", {}, None)
    assert cfn.created == [] and busy.created == []


def test_given_an_executing_change_set_when_followed_then_it_is_in_progress():
    result, cfn = progress(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_IN_PROGRESS", "StackId": "s"},
        stack={"StackStatus": "UPDATE_IN_PROGRESS"},
    )
    assert result.status == "IN_PROGRESS" and cfn.executed == []


# ---- history order (sprout.adapters.source.descends_from) ---------------------------------------


class FakeHistory:
    """GetCommit over a little commit graph: a ← b ← c, and d merging c with x."""

    PARENTS = {"a": [], "b": ["a"], "c": ["b"], "x": ["a"], "d": ["c", "x"]}

    def __init__(self):
        self.calls = 0

    def get_commit(self, repositoryName, commitId):
        self.calls += 1
        return {"commit": {"commitId": commitId, "parents": self.PARENTS[commitId]}}


def test_given_a_commit_graph_when_asked_about_ancestry_then_descends_from_follows_all_parents():
    from sprout.adapters.source import descends_from

    history = FakeHistory()
    assert descends_from("r", "c", "a", client=history)
    assert descends_from("r", "d", "x", client=history)
    assert not descends_from("r", "b", "c", client=history)
    assert not descends_from("r", "c", "c", client=history)
    assert not descends_from("r", "x", "b", client=history)


def test_given_a_long_history_when_the_ancestor_is_beyond_the_limit_then_it_stops_looking():
    from sprout.adapters.source import descends_from

    class Line:
        calls = 0

        def get_commit(self, repositoryName, commitId):
            self.calls += 1
            return {"commit": {"parents": [str(int(commitId) - 1)] if int(commitId) > 0 else []}}

    line = Line()
    assert not descends_from("r", "1000", "0", client=line, max_commits=50)
    assert line.calls <= 51


def test_given_a_change_set_that_settles_within_the_budget_when_followed_then_it_returns_settled():
    class Settling(FakeCloudFormation):
        def __init__(self):
            super().__init__(
                {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "StackId": "s"},
                stack={"StackStatus": "CREATE_IN_PROGRESS"},
            )

        def execute_change_set(self, ChangeSetName):
            super().execute_change_set(ChangeSetName)
            self.change_set = {**self.change_set, "ExecutionStatus": "EXECUTE_IN_PROGRESS"}

    cfn, now = Settling(), [0.0]

    def sleep(seconds):
        now[0] += seconds
        if now[0] >= 1.0:
            cfn.stack = {"StackStatus": "CREATE_COMPLETE"}

    stacks = StageStacks(cloudformation=cfn, lambda_client=object(), clock=lambda: now[0], sleep=sleep)
    assert stacks.follow("cs-1", budget_s=5).status == "SUCCEEDED"
    assert cfn.executed == ["cs-1"] and now[0] < 1.5


def test_given_a_slow_stack_when_followed_then_it_hands_back_in_progress_within_the_budget():
    cfn = FakeCloudFormation(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_IN_PROGRESS", "StackId": "s"},
        stack={"StackStatus": "UPDATE_IN_PROGRESS"},
    )
    now = [0.0]
    stacks = StageStacks(
        cloudformation=cfn,
        lambda_client=object(),
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert stacks.follow("cs-1", budget_s=2).status == "IN_PROGRESS"
    assert now[0] <= 2


def test_given_a_hostile_apps_endless_failure_reason_when_read_then_the_cause_keeps_a_bounded_prefix():
    from sprout.domain.stack_events import first_failure

    found = first_failure([stack_event("Fn", "CREATE_FAILED", "x" * 100_000), stack_level("CREATE_IN_PROGRESS")])
    assert len(found["reason"]) < 1100 and found["reason"].endswith("(99000 more characters)")
