"""Where a measurement came from: the source commit and the machine, for findings and studies."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def source_commit() -> str | None:
    """The git commit of the clinfair source that runs, "+dirty" when tracked files differ from it
    (None outside a git checkout). Asked of the source's own folder, not the working directory."""
    outputs = []
    for command in (["git", "rev-parse", "HEAD"], ["git", "status", "--porcelain", "--untracked-files=no"]):
        try:
            out = subprocess.run(
                command,
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        outputs.append(out.stdout.strip())
    return (outputs[0] + ("+dirty" if outputs[1] else "")) or None


def machine() -> dict[str, object]:
    """What ran it (wall times depend on it): enough to tell two machines apart, no host name."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
