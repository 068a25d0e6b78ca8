"""clinfair.core.text: a hostile name reads back as itself through each escaper, rendered by an
independent renderer (markdown-it-py for Markdown, the standard library's HTML parser for HTML,
matplotlib itself for plots), and creates no element, link or image."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from clinfair.core.text import html_text, markdown_text, plot_text, single_line

#: Everything a run name should not be able to do: an element that fetches a URL, a new line
#: starting a heading, table columns, mathtext, emphasis, a link, code, an entity, a bidi override.
HOSTILE = (
    "run <img src=http://127.0.0.1:9/x onerror=alert(1)>\n## heading | a | b $\\alpha$ *em* _em_ "
    "[link](http://127.0.0.1:9/y) ![i](http://127.0.0.1:9/z) `code` &lt;b&gt; \\ ~~del~~ <b>\u202eevil"
)
NAMES = [
    HOSTILE,
    "tiny-grpo",
    "snake_case_name",
    "# starts a heading",
    "- starts a list",
    "1. starts an ordered list",
    "> a quote",
    "line\r\nbreak\u2028separator\x0bvertical",
    "$x$ and $$y$$ and \\$z",
    "a__b__c",
    "   padded   ",
]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(document: str) -> _Collect:
    parser = _Collect()
    parser.feed(document)
    parser.close()
    return parser


def test_single_line_folds_breaks_and_controls_and_drops_bidi_overrides():
    assert single_line("a\nb\r\nc\u2028d\u2029e\x00f\tg") == "a b  c d e f g"
    assert single_line("x\u202ey\u2066z") == "xyz"
    assert single_line(3.5) == "3.5"


@pytest.mark.parametrize("name", NAMES)
def test_html_text_is_text(name):
    parsed = _parse(f'<table><tr><td title="{html_text(name)}">{html_text(name)}</td></tr></table>')
    assert parsed.tags == ["table", "tr", "td"]
    assert parsed.cells == [name]


@pytest.mark.parametrize("name", NAMES)
def test_markdown_text_keeps_a_table_row_whole_and_reads_back_as_itself(name):
    import markdown_it

    # CommonMark with raw HTML allowed (as GitHub and the Hub allow some), plus GFM tables
    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    cell = markdown_text(name)
    document = f"| run | score |\n|---|---|\n| {cell} | 0.5 |\n\n{cell}\n\n# {cell}\n\n- {cell}\n"
    parsed = _parse(renderer.render(document))
    assert parsed.tags == [
        "table",
        "thead",
        "tr",
        "th",
        "th",
        "tbody",
        "tr",
        "td",
        "td",
        "p",
        "h1",
        "ul",
        "li",
    ]
    expected = " ".join(single_line(name).split())  # Markdown folds runs of spaces in the HTML it emits
    assert [" ".join(c.split()) for c in parsed.cells] == ["run", "score", expected, "0.5"]


def test_markdown_text_leaves_ordinary_names_readable():
    assert markdown_text("tiny-grpo") == "tiny-grpo"
    assert markdown_text("snake_case_name") == "snake_case_name"
    assert markdown_text("pad_ufes20 sex*age_group") == "pad_ufes20 sex\\*age_group"


@pytest.mark.parametrize("name", NAMES)
def test_plot_text_is_never_mathtext(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    try:
        text = ax.set_title(plot_text(name))
        shown, math = text._preprocess_math(text.get_text())  # what matplotlib will draw, and how
        assert math is False
        assert shown == single_line(name)
        figure.canvas.draw()  # a name that is broken mathtext must still draw
    finally:
        plt.close(figure)


def test_broken_mathtext_raises_unescaped_and_draws_escaped():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    try:
        ax.set_title("run $\\frac{$")
        with pytest.raises(ValueError):
            figure.canvas.draw()  # the oracle: matplotlib does parse an unescaped name as mathtext
        ax.set_title(plot_text("run $\\frac{$"))
        figure.canvas.draw()
    finally:
        plt.close(figure)
