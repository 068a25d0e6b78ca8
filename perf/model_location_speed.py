"""How fast `clinfair check-model` names the cause of a model that cannot load, against the old way.

For each case (a mistyped path, an empty folder, a file given for a folder, a folder without
config.json, a Hub id offline and not cached) this times, in a fresh interpreter each:

* new: ``clinfair check-model MODEL`` (the check runs before torch is imported);
* old: what the command did before, loading through transformers
  (``clinfair.benchmark.models.load_model_and_processor``, which imports torch first);
* baseline: ``clinfair --help`` (the interpreter and the CLI, nothing else).

It prints the median wall time of each over ``--repeats`` runs and the ratio old / new; the goal
is new < 2 s. Machines here are shared and noisy: compare the ratio, not the seconds.

    python perf/model_location_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLD = (
    "import sys\n"
    "from clinfair.benchmark.models import load_model_and_processor\n"
    "try:\n    load_model_and_processor(sys.argv[1])\n"
    "except Exception as error:\n    print(str(error).splitlines()[0][:150])\n"
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    text = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return seconds, (text[-1] if text else "")[:150]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clinfair-locate-"))
    (root / "models" / "tiny-gemma3").mkdir(parents=True)
    (root / "models" / "tiny-gemma3" / "config.json").write_text("{}")
    (root / "models" / "tiny-gemma3" / "model.safetensors").write_bytes(b"")
    (root / "models" / "empty").mkdir()
    (root / "models" / "no-config").mkdir()
    (root / "models" / "no-config" / "tokenizer.json").write_text("{}")
    cases = {
        "mistyped path": str(root / "models" / "tiny-gema3"),
        "empty folder": str(root / "models" / "empty"),
        "file, not a folder": str(root / "models" / "tiny-gemma3" / "model.safetensors"),
        "no config.json": str(root / "models" / "no-config"),
        "Hub id offline, not cached": "someorg/not-cached-model",
    }
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(root / "hub-cache")}
    cli = [sys.executable, "-m", "clinfair.cli"]
    baseline = statistics.median(timed([*cli, "--help"], env)[0] for _ in range(args.repeats))
    print(f"baseline `clinfair --help`: {baseline:.2f} s (median of {args.repeats})\n")
    print(f"{'case':<28}{'new s':>8}{'old s':>8}{'old/new':>9}  new message | old message")
    for case, model in cases.items():
        new = [timed([*cli, "check-model", model], env) for _ in range(args.repeats)]
        old = [timed([sys.executable, "-c", OLD, model], env) for _ in range(args.repeats)]
        new_s, old_s = statistics.median(s for s, _ in new), statistics.median(s for s, _ in old)
        print(f"{case:<28}{new_s:>8.2f}{old_s:>8.2f}{old_s / new_s:>8.1f}x  {new[0][1]} | {old[0][1]}")


if __name__ == "__main__":
    main()
