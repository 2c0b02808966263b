"""CloudFormation on the local cloud fails as AWS does: a failed update rolls back to the previous
properties, a stack CloudFormation would not update refuses updates and change sets with its words,
and a rollback that failed is continued with ContinueUpdateRollback (ResourcesToSkip too). Resource
failures are injected with the local cloud's fault hooks (localcloud/faults.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.faults import armed
from tests.integration.localcloud.test_cloudformation import FAST, resources, wait_settled


def groups(uid: str, retention: int, extra: str | None = None) -> str:
    body = {"Resources": {"One": {"Type": "AWS::Logs::LogGroup",
                                  "Properties": {"LogGroupName": f"/cfn-recovery/{uid}/one", "RetentionInDays": retention}}}}
    if extra:
        body["Resources"]["Two"] = {"Type": "AWS::Logs::LogGroup", "DependsOn": "One",
                                    "Properties": {"LogGroupName": f"/cfn-recovery/{uid}/{extra}"}}
    return json.dumps(body)


def retention(cloud, uid: str) -> int:
    (group,) = cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"/cfn-recovery/{uid}/one")["logGroups"]
    return group["retentionInDays"]


def refused(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == "ValidationError"
    return e.value.response["Error"]["Message"]


@pytest.fixture
def stack(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"recovery-{uid}"
    cf.create_stack(StackName=name, TemplateBody=groups(uid, 3))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    return name


def test_given_an_update_whose_rollback_fails_then_the_stack_refuses_updates_until_its_rollback_is_continued(
    cloud, uid, stack
):
    cf = cloud.client("cloudformation")
    # GIVEN an update that changes One and fails at Two, and One that cannot be put back
    with armed(cloud, kind="fail-resource", stack=stack, logicalId="Two", phase="create", message="Two is refused"), \
         armed(cloud, kind="fail-resource", stack=stack, logicalId="One", phase="rollback", message="One is stuck"):
        cf.update_stack(StackName=stack, TemplateBody=groups(uid, 5, "two"))
        found = wait_settled(cf, stack)
    # THEN the stack is UPDATE_ROLLBACK_FAILED with One UPDATE_FAILED and both reasons
    assert found["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert "Two is refused" in found["StackStatusReason"] and "One is stuck" in found["StackStatusReason"]
    assert {r: v["ResourceStatus"] for r, v in resources(cf, stack).items()} == {"One": "UPDATE_FAILED"}
    assert retention(cloud, uid) == 5
    # AND an update, a change set, or skipping a resource whose rollback did not fail are refused as AWS does
    stack_id = found["StackId"]
    words = f"Stack:{stack_id} is in UPDATE_ROLLBACK_FAILED state and can not be updated."
    assert refused(lambda: cf.update_stack(StackName=stack, TemplateBody=groups(uid, 7))) == words
    assert refused(lambda: cf.create_change_set(StackName=stack, ChangeSetName="again", TemplateBody=groups(uid, 7))) == words
    assert "Two" in refused(lambda: cf.continue_update_rollback(StackName=stack, ResourcesToSkip=["Two"]))
    # WHEN the rollback is continued
    cf.continue_update_rollback(StackName=stack)
    # THEN it completes, One back to its old property, and the stack takes updates again
    assert wait_settled(cf, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert retention(cloud, uid) == 3
    cf.update_stack(StackName=stack, TemplateBody=groups(uid, 7))
    assert wait_settled(cf, stack)["StackStatus"] == "UPDATE_COMPLETE" and retention(cloud, uid) == 7


def test_given_a_rollback_that_failed_when_continued_skipping_the_stuck_resource_then_it_completes(cloud, uid, stack):
    cf = cloud.client("cloudformation")
    with armed(cloud, kind="fail-resource", stack=stack, logicalId="Two", phase="create"), \
         armed(cloud, kind="fail-resource", stack=stack, logicalId="One", phase="rollback", count=0):
        cf.update_stack(StackName=stack, TemplateBody=groups(uid, 5, "two"))
        assert wait_settled(cf, stack)["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
        cf.continue_update_rollback(StackName=stack, ResourcesToSkip=["One"])
        assert wait_settled(cf, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    skipped = [e for e in cf.describe_stack_events(StackName=stack)["StackEvents"] if e["LogicalResourceId"] == "One"][0]
    assert skipped["ResourceStatus"] == "UPDATE_COMPLETE"
    assert retention(cloud, uid) == 5  # skipped: left as the failed update made it, as AWS says


def test_given_a_failed_first_create_then_updates_and_change_sets_are_refused_and_delete_frees_the_name(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"first-{uid}"
    with armed(cloud, kind="fail-resource", stack=name, logicalId="One", phase="create", message="no"):
        cf.create_stack(StackName=name, TemplateBody=groups(uid, 3))
        found = wait_settled(cf, name)
    assert found["StackStatus"] == "ROLLBACK_COMPLETE"
    words = f"Stack:{found['StackId']} is in ROLLBACK_COMPLETE state and can not be updated."
    assert refused(lambda: cf.update_stack(StackName=name, TemplateBody=groups(uid, 4))) == words
    assert refused(lambda: cf.create_change_set(StackName=name, ChangeSetName="c", TemplateBody=groups(uid, 4))) == words
    assert "can not continue its update rollback" in refused(lambda: cf.continue_update_rollback(StackName=name))
    cf.delete_stack(StackName=name)
    cf.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=FAST)
    cf.create_stack(StackName=name, TemplateBody=groups(uid, 3))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)


def test_given_an_update_refused_before_anything_applied_when_rolled_back_then_the_rollback_completes(cloud, uid, stack):
    cf, ssm = cloud.client("cloudformation"), cloud.client("ssm")
    ssm.put_parameter(Name=f"/cfn-recovery/{uid}", Value="9", Type="String")
    body = json.loads(groups(uid, 3))
    body["Resources"]["One"]["Properties"]["RetentionInDays"] = "{{resolve:ssm:/cfn-recovery/" + uid + "}}"
    change_set = cf.create_change_set(StackName=stack, ChangeSetName="dyn", TemplateBody=json.dumps(body))["Id"]
    ssm.delete_parameter(Name=f"/cfn-recovery/{uid}")  # gone by the time the change set runs
    cf.execute_change_set(ChangeSetName=change_set)
    found = wait_settled(cf, stack)
    # the value could not be read, so nothing was applied: the rollback has nothing to put back
    assert found["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", found.get("StackStatusReason")
    assert retention(cloud, uid) == 3


def test_given_a_throttle_fault_then_the_api_answers_throttling_as_aws_does(cloud, uid, stack):
    from botocore.config import Config

    cf = cloud.client("cloudformation", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    with armed(cloud, kind="throttle", service="cloudformation", action="DescribeStacks", contains=stack, count=1):
        with pytest.raises(ClientError) as e:
            cf.describe_stacks(StackName=stack)
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == ("Throttling", "Rate exceeded")
        assert cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
