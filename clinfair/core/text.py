"""Text is text: one escaper for each place a user-controlled string is shown.

Run, model, method, task, attribute and group names and titles come from the user (a folder
name, a ``--title``, a column of their table). Wherever one is shown it must read as the
characters it is made of, never as markup: an ``<img src=…>`` in a run name must not make
the page fetch anything, a newline followed by ``## heading`` must not end a Markdown table
row and start a section, a ``|`` must not add a table column, and ``$\\alpha$`` must not make
matplotlib typeset (or refuse) mathtext. Each output format has its escaper here:

* :func:`html_text` — HTML element content and attribute values (``index.html``);
* :func:`markdown_text` — Markdown inline text, table cells included (``leaderboard.md``,
  ``paper_table.md``, the dataset card): one line, no HTML, no emphasis, link, code, math
  or table syntax;
* :func:`plot_text` — matplotlib titles, tick labels and legend entries: one line, no mathtext;
* :func:`single_line` — plain text on one line (console, YAML notes): line breaks and
  control characters become spaces.

Escaping happens where a string enters an output, once: the tables and manifests keep the
names as the user wrote them. Pure functions of ``str``; anything else is shown via ``str()``.
The Gradio Space cannot import clinfair (it runs ``app.py`` as it is), so it keeps user text
out of Markdown components and escapes it with the standard library's ``html.escape``
(``tests/test_text.py`` checks the Space's copy of :func:`plot_text` against this one).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

# bidirectional embeddings, overrides and isolates: they reorder the text around them on screen
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# ASCII characters that start Markdown inline syntax anywhere in a line: escapes, code spans,
# emphasis, links and images, table cells, strikethrough, math (the Hub renders $…$ with KaTeX)
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]|~$])")
# "_" opens or closes emphasis only where it is not between two letters or digits (snake_case stays as is)
_MARKDOWN_UNDERSCORE = re.compile(r"_(?![^\W_])|(?<![^\W_])_")
# what would open a block if the text started a line: heading, list item, quote, setext underline
_MARKDOWN_BLOCK_START = re.compile(r"^(?:([#>+=-])|(\d+)([.)]))")


def single_line(value: Any) -> str:
    """``value`` as one line of plain text: every line break (``\\n``, ``\\r``, U+2028, …) and
    control character becomes a space, bidirectional-override characters are dropped."""
    out = []
    for char in str(value):
        if char in _BIDI_CONTROLS:
            continue
        category = unicodedata.category(char)
        out.append(" " if category in ("Cc", "Zl", "Zp") else char)
    return "".join(out)


def html_text(value: Any) -> str:
    """``value`` safe as HTML element content or a quoted attribute value (``&``, ``<``, ``>``,
    ``"`` and ``'`` become character references)."""
    return html.escape(str(value), quote=True)


def markdown_text(value: Any) -> str:
    """``value`` as literal Markdown inline text, safe in a GFM table cell: one line, HTML
    special characters as character references, Markdown punctuation backslash-escaped
    (``|`` included), and a leading block marker (``#``, ``-``, ``1.``, …) escaped."""
    text = single_line(value).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    text = _MARKDOWN_UNDERSCORE.sub(r"\\_", text)

    def block(match: re.Match[str]) -> str:
        if match.group(1):
            return "\\" + match.group(1)
        return match.group(2) + "\\" + match.group(3)

    return _MARKDOWN_BLOCK_START.sub(block, text, count=1)


def plot_text(value: Any) -> str:
    """``value`` as literal matplotlib text (titles, tick labels, legends): one line, every
    ``$`` escaped so that no mathtext is parsed (matplotlib shows ``\\$`` as ``$``)."""
    return single_line(value).replace("$", r"\$")
