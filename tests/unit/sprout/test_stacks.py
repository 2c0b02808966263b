"""The stage stack adapter's reading of CloudFormation's change set and stack states."""

from botocore.exceptions import ClientError

from sprout.adapters.stacks import StageStacks


class FakeCloudFormation:
    """An in-memory CloudFormation with just the calls StageStacks makes."""

    def __init__(self, change_set: dict, stack: dict | None = None, events: list | None = None):
        self.change_set = change_set
        self.stack = stack
        self.events = events or []
        self.executed = []

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
        }
    )
    assert (result.status, result.changed) == ("SUCCEEDED", False)


def test_given_an_executed_change_set_and_a_rolled_back_stack_when_followed_then_it_fails_with_the_first_cause():
    events = [
        {"ResourceStatus": "UPDATE_ROLLBACK_COMPLETE", "LogicalResourceId": "stack"},
        {
            "ResourceStatus": "UPDATE_FAILED",
            "LogicalResourceId": "CreateFunction",
            "ResourceStatusReason": "handler missing",
        },
    ]
    result, _ = progress(
        {"Status": "CREATE_COMPLETE", "ExecutionStatus": "EXECUTE_COMPLETE", "StackId": "s"},
        stack={"StackStatus": "UPDATE_ROLLBACK_COMPLETE"},
        events=events,
    )
    assert result.status == "FAILED"
    assert "CreateFunction: handler missing" in result.reason


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
