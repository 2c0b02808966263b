"""Run ``sprout local up`` as a child process and read where things are from what it prints.

The one way the demo, the tests and the benchmarks start a local cloud, as a developer would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sprout.cli.client import STACK_NAME

READY = "localcloud ready "
STACK_READY = f"stack {STACK_NAME} ready"


class LocalCloudDidNotStart(RuntimeError):
    pass


@dataclass
class LocalSprout:
    """A running ``sprout local up``: its endpoint, Sprout's stack outputs, and all it printed."""

    endpoint: str
    data_dir: Path
    process: subprocess.Popen
    outputs: dict[str, str] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.outputs["ApiUrl"]

    @classmethod
    def start(
        cls,
        data_dir: Path,
        port: int = 0,
        with_sprout: bool = True,
        extra_args: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> LocalSprout:
        sprout = Path(sys.executable).with_name("sprout")
        args = [str(sprout), "local", "up", "--port", str(port), "--data-dir", str(data_dir), *extra_args]
        if not with_sprout:
            args.append("--no-sprout")
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
        printed: list[str] = []
        endpoint, outputs = None, {}
        assert process.stdout is not None
        stdout = process.stdout
        for line in stdout:
            printed.append(line)
            if line.startswith(READY):
                endpoint = line.split()[2]
                if not with_sprout:
                    break
            elif line.startswith(STACK_READY):
                outputs = dict(part.split("=", 1) for part in line.split()[3:])
                break
        if endpoint is None or (with_sprout and not outputs):
            process.kill()
            process.wait(timeout=10)
            raise LocalCloudDidNotStart("sprout local up did not start:\n" + "".join(printed))
        # keep draining what it prints, so it never blocks on a full pipe
        threading.Thread(target=lambda: printed.extend(stdout), daemon=True).start()
        return cls(endpoint=endpoint, data_dir=data_dir, process=process, outputs=outputs, printed=printed)

    def stop(self, timeout: float = 10) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
            raise
