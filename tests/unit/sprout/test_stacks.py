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
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
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
    result, _ = progress({"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes.", "StackId": "s"})
    assert (result.status, result.changed) == ("SUCCEEDED", False)


def test_given_an_executed_change_set_and_a_rolled_back_stack_when_followed_then_it_fails_with_the_first_cause():
    events = [
        {"ResourceStatus": "UPDATE_ROLLBACK_COMPLETE", "LogicalResourceId": "stack"},
        {"ResourceStatus": "UPDATE_FAILED", "LogicalResourceId": "CreateFunction", "ResourceStatusReason": "handler missing"},
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
