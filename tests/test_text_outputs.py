"""A hostile name through the outputs that are not a browser page: the dataset card and a model's
results notes (rendered by markdown-it-py, an independent CommonMark renderer), and the Space's own
copy of the plot escaper and its group figure (the Space cannot import clinfair)."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
import yaml

from clinfair.core.text import plot_text, single_line

HOSTILE = (
    "evil <img src=http://127.0.0.1:9/x onerror=alert(1)>\n## heading | a | b $\\alpha$ *em* "
    "[link](http://127.0.0.1:9/y)"
)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._open.append(tag)
        self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if tag in self._open:
            self._open.remove(tag)

    def handle_data(self, data):
        for tag in set(self._open):
            self.text[tag][-1] += data


def _render(markdown: str) -> _Elements:
    import markdown_it

    parser = _Elements()
    parser.feed(markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))
    return parser


def test_dataset_card_shows_a_hostile_title_and_difference_as_text(monkeypatch):
    from clinfair.leaderboard import hub

    monkeypatch.setattr(hub, "markdown_table", lambda *args, **kwargs: "| run |\n|---|\n| x |")  # the board's
    difference = f"protocol: paper ({HOSTILE}); paper-v2 (other)"
    manifest = {
        "title": HOSTILE,
        "clinfair_version": "0.1.0",
        "settings": {"ci_level": 0.95, "n_bootstrap": 10},
        "comparison": {"mixed": True, "differences": [difference]},
    }
    card = hub.dataset_card("org/board", manifest, pd.DataFrame(), ["leaderboard.parquet"])
    _, front, body = card.split("---\n", 2)
    assert yaml.safe_load(front)["pretty_name"] == HOSTILE  # YAML quotes it; the Hub shows it as a name
    parsed = _render(body)
    tags = [tag for tag, _ in parsed.elements]
    assert "img" not in tags
    assert [attrs["href"] for tag, attrs in parsed.elements if tag == "a"] == [
        "https://arxiv.org/abs/2510.19893"
    ]
    assert parsed.text["h1"] == [single_line(HOSTILE)]
    assert parsed.text["h2"] == ["Overall", "Metrics", "Files", "Use"]
    assert " ".join(single_line(difference).split()) in [" ".join(t.split()) for t in parsed.text["li"]]


def test_model_results_notes_show_a_hostile_run_name_as_text():
    from clinfair.leaderboard.hub import model_results_yaml

    scores = pd.DataFrame([{"run": HOSTILE, "metric": "f1_es", "scope": "overall", "value": 0.5}])
    run = {"run": HOSTILE, "method": "grpo", "unranked": None}
    (entry,) = yaml.safe_load(model_results_yaml("org/board", run, scores))
    parsed = _render(entry["notes"])
    assert [tag for tag, _ in parsed.elements] == ["p"]
    assert " ".join(parsed.text["p"][0].split()) == " ".join(
        f"run {single_line(HOSTILE)}, method grpo; F1_ES, paper protocol".split()
    )


@pytest.mark.parametrize("name", [HOSTILE, "$x$", "a\\$b", "x\u202ey", "tab\there", "plain"])
def test_the_spaces_plot_escaper_is_the_core_one(name):
    from clinfair.leaderboard.space.app import plot_text as space_plot_text

    assert space_plot_text(name) == plot_text(name)


def test_the_spaces_group_figure_leaves_out_empty_groups_and_draws_names_as_written():
    import matplotlib.pyplot as plt
    from clinfair.leaderboard.space.app import group_figure

    broken = "g $\\frac{$"
    data = pd.DataFrame(
        [
            {
                "run": HOSTILE,
                "method": "m",
                "group": g,
                "rows": n,
                "value": v,
                "ci_low": v - 0.5,
                "ci_high": v + 0.5,
            }
            for g, n, v in ((broken, 10, 0.9), ("empty", 0, float("nan")), ("B", 20, 0.2))
        ]
    )
    figure = group_figure(data, "accuracy")
    try:
        figure.canvas.draw()
        ax = figure.axes[0]
        labels = [t._preprocess_math(t.get_text()) for t in ax.get_xticklabels()]
        assert labels == [(f"{broken}\nn=10", False), ("B\nn=20", False)]
        legend = [t._preprocess_math(t.get_text()) for t in ax.get_legend().get_texts()]
        assert legend == [(single_line(HOSTILE), False)]
        caps = [y for line in ax.lines for y in line.get_ydata()]  # the interval caps
        assert caps and min(caps) >= 0 and max(caps) <= 1
    finally:
        plt.close(figure)
