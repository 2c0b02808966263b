"""The stack store: every stack (deleted ones too, found by id) and every change set, in memory,
under one lock, looked up as CloudFormation looks them up; and the exports of the live stacks."""

from __future__ import annotations

import re
import threading

from .model import ApiError, ChangeSet, Stack, validation
from .template import TemplateError

STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


class StackStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stacks: list[Stack] = []
        self.change_sets: list[ChangeSet] = []

    def find_stack(self, name_or_id: str) -> Stack:
        """A live stack by name, or any stack (deleted too) by id, as CloudFormation looks them up."""
        with self.lock:
            for stack in reversed(self.stacks):
                if stack.stack_id == name_or_id or (stack.name == name_or_id and stack.live):
                    return stack
        raise validation(f"Stack with id {name_or_id} does not exist")

    def find_live(self, name_or_id: str) -> Stack | None:
        """The live stack of that name or id, if any (no error)."""
        with self.lock:
            return next((s for s in reversed(self.stacks) if s.live and name_or_id in (s.name, s.stack_id)), None)

    def live_stacks(self) -> list[Stack]:
        with self.lock:
            return [s for s in self.stacks if s.live]

    def all_stacks(self) -> list[Stack]:
        with self.lock:
            return list(self.stacks)

    def name_taken(self, name: str) -> bool:
        with self.lock:
            return any(s.live and s.name == name for s in self.stacks)

    def check_new_name(self, name: str) -> None:
        if self.name_taken(name):
            raise ApiError("AlreadyExistsException", f"Stack [{name}] already exists")

    def find_change_set(self, name_or_id: str, stack_name: str | None) -> ChangeSet:
        with self.lock:
            for cs in self.change_sets:
                if cs.change_set_id == name_or_id:
                    return cs
                if (
                    cs.name == name_or_id
                    and stack_name
                    and stack_name in (cs.stack.name, cs.stack.stack_id)
                    and (cs.stack.live)
                ):
                    return cs
        if not name_or_id.startswith("arn:") and not stack_name:
            raise validation("StackName must be specified if ChangeSetName is not specified as an ARN.")
        raise ApiError("ChangeSetNotFound", f"ChangeSet [{name_or_id}] does not exist")

    def change_sets_of(self, stack: Stack) -> list[ChangeSet]:
        with self.lock:
            return [cs for cs in self.change_sets if cs.stack is stack]

    def drop_change_sets_of(self, stack: Stack, keep: ChangeSet | None = None) -> None:
        with self.lock:
            self.change_sets = [c for c in self.change_sets if c.stack is not stack or c is keep]

    def exports(self) -> list[dict[str, str]]:
        out = []
        for stack in self.live_stacks():
            for output in stack.outputs:
                if output.get("ExportName"):
                    out.append(
                        {
                            "ExportingStackId": stack.stack_id,
                            "Name": output["ExportName"],
                            "Value": output["OutputValue"],
                        }
                    )
        return out

    def import_value(self, name: str, importer: Stack) -> str:
        for export in self.exports():
            if export["Name"] == name and export["ExportingStackId"] != importer.stack_id:
                return export["Value"]
        raise TemplateError(f"No export named {name} found.")
