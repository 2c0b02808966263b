"""The local cloud's fault registry (localcloud/faults.py): which events an armed fault takes, how
``skip`` and ``count`` bound it, and that a held stack goes on once its fault is cleared."""

from __future__ import annotations

import threading

import pytest

from localcloud.faults import Faults


def test_given_a_throttle_with_skip_and_count_then_it_lets_the_first_through_and_takes_that_many():
    faults = Faults()
    faults.arm({"kind": "throttle", "service": "cloudformation", "action": "DescribeChangeSet", "skip": 1, "count": 2})
    taken = [faults.take("throttle", service="cloudformation", action="DescribeChangeSet") is not None for _ in range(4)]
    assert taken == [False, True, True, False]
    assert faults.take("throttle", service="cloudformation", action="DescribeStacks") is None


def test_given_a_throttle_from_roles_then_the_root_key_and_other_bodies_are_spared():
    faults = Faults()
    faults.arm({"kind": "throttle", "service": "cloudformation", "action": "DescribeStacks", "from": "roles",
                "contains": "notes-dev", "count": 0})
    call = {"service": "cloudformation", "action": "DescribeStacks"}
    assert faults.take("throttle", **call, caller="localcloud", body="StackName=notes-dev") is None
    assert faults.take("throttle", **call, caller="ASIAROLE", body="StackName=other") is None
    assert all(faults.take("throttle", **call, caller="ASIAROLE", body="StackName=notes-dev") for _ in range(5))


def test_given_a_kill_worker_fault_then_it_matches_a_part_of_the_function_name_once():
    faults = Faults()
    faults.arm({"kind": "kill-worker", "function": "CheckDeployFunction", "afterSeconds": 1})
    assert faults.take("kill-worker", function="sprout-BeginDeployFunction-X") is None
    assert faults.take("kill-worker", function="sprout-CheckDeployFunction-X")["afterSeconds"] == 1
    assert faults.take("kill-worker", function="sprout-CheckDeployFunction-X") is None


@pytest.mark.parametrize("spec", [{"kind": "flood"}, {"kind": "throttle", "service": "s3"}, {"kind": "hold-stack"}])
def test_given_an_unknown_or_incomplete_fault_when_armed_then_it_is_refused_naming_what_is_missing(spec):
    with pytest.raises(ValueError):
        Faults().arm(spec)


def test_given_a_held_stack_when_its_fault_is_cleared_then_the_update_goes_on():
    faults = Faults()
    fault = faults.arm({"kind": "hold-stack", "stack": "notes-dev"})
    went_on = threading.Event()
    worker = threading.Thread(target=lambda: (faults.hold("notes-dev"), went_on.set()))
    worker.start()
    faults.hold("another-stack")  # other stacks are never held (this returns at once)
    while faults.list()[0]["done"] == 0:  # the update has reached the hold
        threading.Event().wait(0.01)
    assert not went_on.is_set()  # and, held, cannot go on before the fault is cleared
    assert faults.clear(fault["id"]) == 1
    worker.join(timeout=10)
    assert went_on.is_set()
