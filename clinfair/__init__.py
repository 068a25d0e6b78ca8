"""The application layer: the ``clinfair`` command line, its command modules, the demo and the study.

It sits on top of ``tasks`` → ``benchmark`` → ``trainers`` → ``leaderboard`` (an import-linter
contract in ``make lint`` keeps imports pointing down) and finds its command modules by import
strings, so ``clinfair --help`` imports no torch or TRL.
"""
