"""One module per ``clinfair`` sub-command, each exposing ``register(subparsers)``."""
