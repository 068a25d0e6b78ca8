"""The bottom layer: what every other layer shares and nothing of clinfair's own.

* :mod:`~clinfair.core.errors` — ``ClinfairError``, the base of every error a user can cause;
* :mod:`~clinfair.core.io` — atomic writes of files and folders;
* :mod:`~clinfair.core.yamlio` — the one YAML reader (safe, ``1e-6`` is a float) and YAML → dataclass loading;
* :mod:`~clinfair.core.arguments` — command-line flags built from dataclass fields;
* :mod:`~clinfair.core.hub` — Hub repository ids, public model names and the one Hub push (``push_commit``, ``HubError``);
* :mod:`~clinfair.core.text` — escapers for user text in HTML, Markdown, plots and plain text;
* :mod:`~clinfair.core.version` — ``__version__``.

It imports no other part of clinfair (the import contract of pyproject.toml checks it).
"""
