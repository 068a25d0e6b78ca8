"""``clinfair study CONFIG``: methods x seeds on one task with one budget, paired by seed.

* :mod:`clinfair.study.config`: the YAML config, its primary endpoint and the flag overrides;
* :mod:`clinfair.study.runner`: training and evaluating every (method, seed) run, resumable;
* :mod:`clinfair.study.statistics`: the seed-level statistics (pure: numpy and scipy);
* :mod:`clinfair.study.report`: the runs' files into ``report.json`` and ``report.md``;
* :mod:`clinfair.study.plan`: ``--plan``, the seeds a target effect needs;
* :mod:`clinfair.study.command`: the command line.
"""

from clinfair.study.command import StudyArguments, register, run
from clinfair.study.config import PrimaryEndpoint, StudyConfig, load_config

__all__ = ["PrimaryEndpoint", "StudyArguments", "StudyConfig", "load_config", "register", "run"]
