"""``clinfair study CONFIG --plan``: how many seeds the configured study needs.

From the standard deviation of the per-seed differences of the primary endpoint (a pilot
study's ``report.json``, the largest over its comparisons, or ``--sd``), for the two-sided
paired t-test at 5 % / the number of comparisons: the minimum difference detectable with 80 % power at the configured
number of seeds, the seeds needed for the config's ``target_effect``, and what that costs at
the pilot's measured seconds per run (or ``--seconds-per-run``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from clinfair.benchmark.seedstats import minimum_detectable_difference, paired_t_power, seeds_needed
from clinfair.core.errors import ClinfairError
from clinfair.study.config import StudyConfig, check_target_effect
from clinfair.study.statistics import TARGET_POWER, family_alpha


def pilot_numbers(pilot: Path, config: StudyConfig) -> dict[str, Any]:
    """The SD of the per-seed primary differences (the largest over the pilot's comparisons, with
    the comparison it comes from) and the mean seconds per run of a finished study folder."""
    path = pilot / "report.json"
    if not path.is_file():
        raise ClinfairError(f"--pilot {pilot}: no report.json (give a finished `clinfair study` folder)")
    report = json.loads(path.read_text())
    name = (report.get("primary") or {}).get("name")
    if name != config.endpoint.name:
        raise ClinfairError(
            f"--pilot {pilot}: its primary endpoint is {name!r}, the config's is {config.endpoint.name!r}"
        )
    spreads = {
        method: entry["primary"].get("sd")
        for method, entry in report.get("differences", {}).items()
        if entry.get("primary", {}).get("sd") is not None
    }
    if not spreads:
        raise ClinfairError(
            f"--pilot {pilot}: no comparison with 2 or more paired seeds; run more seeds or give --sd"
        )
    method = max(spreads, key=spreads.get)
    seconds = (report.get("seconds_per_run") or {}).get("mean")
    return {
        "sd": spreads[method],
        "source": f"pilot {pilot} ({method} vs {report['config']['baseline']})",
        "seconds_per_run": seconds,
    }


def plan(
    config: StudyConfig,
    pilot: Path | None = None,
    sd: float | None = None,
    seconds_per_run: float | None = None,
) -> str:
    """The plan's text (see the module docstring)."""
    if pilot is None and sd is None:
        raise ClinfairError(
            "--plan needs --pilot DIR (a finished study folder) or --sd X (the SD of the per-seed differences)"
        )
    target = check_target_effect(config.target_effect, "target_effect")
    if pilot is not None:
        numbers = pilot_numbers(pilot, config)
    else:
        if not (isinstance(sd, float | int) and sd > 0 and math.isfinite(sd)):
            raise ClinfairError(f"--sd must be a positive number (a fraction: 0.05 = 5 points), got {sd}")
        numbers = {"sd": float(sd), "source": "--sd", "seconds_per_run": None}
    if seconds_per_run is not None:
        if not seconds_per_run > 0:
            raise ClinfairError(f"--seconds-per-run must be positive, got {seconds_per_run}")
        numbers["seconds_per_run"] = seconds_per_run
    spread, seeds = numbers["sd"], len(config.seed_list)
    methods = len(config.methods)
    alpha = family_alpha(len(config.compared))
    detectable = minimum_detectable_difference(spread, seeds, TARGET_POWER, alpha)
    needed = seeds_needed(target, spread, TARGET_POWER, alpha)
    lines = [
        f"Primary endpoint: {config.endpoint.name} ({config.endpoint.direction} is better), each of "
        f"{', '.join(config.compared)} vs {config.baseline}; two-sided paired t-test over seeds at "
        f"α = {alpha:.3g} (5 % / {max(1, len(config.compared))} comparisons, Holm's strictest step).",
        f"SD of the per-seed differences: {spread * 100:.2f} points (from {numbers['source']}).",
        f"With the configured {seeds} seeds: minimum detectable difference at 80 % power "
        f"{detectable * 100:.2f} points; power for the target {target * 100:.2f} points: "
        f"{paired_t_power(target, spread, seeds, alpha) * 100:.0f} %.",
    ]
    if needed is None:
        lines.append(
            f"Seeds needed for the target {target * 100:.2f} points at 80 % power: more than 100000."
        )
        return "\n".join(lines)
    runs = needed * methods
    lines.append(
        f"Seeds needed for the target {target * 100:.2f} points at 80 % power: {needed} "
        f"({runs} runs of {methods} methods)."
    )
    per_run = numbers["seconds_per_run"]
    if per_run:
        workers = config.worker_count(runs)
        wall = runs * per_run / workers
        at_once = f", {workers} runs at a time (workers)" if workers > 1 else ""
        lines.append(
            f"Time at {per_run:.0f} s per run (train + eval){at_once}: {wall:.0f} s ({wall / 3600:.1f} h)."
        )
    else:
        lines.append(
            "Time: give --seconds-per-run or a --pilot study folder (it records the seconds per run)."
        )
    return "\n".join(lines)
