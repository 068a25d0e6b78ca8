"""The leaderboard's defaults, one place for the library and ``clinfair leaderboard build``
(light: the command line reads them without loading pandas)."""

from __future__ import annotations

#: Bootstrap resamples of each leaderboard interval (fewer than eval's: many runs per build).
DEFAULT_BOOTSTRAP = 200
DEFAULT_CI_LEVEL = 0.95
#: A run with more invalid answers than this share is not ranked (and a group above it is marked).
DEFAULT_MAX_INVALID = 0.10
DEFAULT_TITLE = "clinfair fairness leaderboard"
