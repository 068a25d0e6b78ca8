"""clinfair.core.yamlio: the one YAML reader and the one unknown-key error."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from clinfair.core.errors import ClinfairError
from clinfair.core.yamlio import check_keys, load_dataclass, load_yaml, unknown_keys_message


class OwnError(ClinfairError):
    pass


@dataclass
class Settings:
    window: str = "batch"
    decay: float = 0.9
    derived: int = field(default=0, init=False)

    def __post_init__(self):
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")


def test_exponent_floats_without_a_dot_are_floats():
    assert load_yaml("lr: 1e-6\nn: 5E+3\nname: 1e") == {"lr": 1e-6, "n": 5000.0, "name": "1e"}


def test_load_dataclass_builds_the_instance():
    assert load_dataclass(Settings, load_yaml("window: cumulative\ndecay: 0.5"), "x") == Settings(
        "cumulative", 0.5
    )
    assert load_dataclass(Settings, None, "x") == Settings()


def test_unknown_key_names_the_place_the_closest_field_and_all_fields():
    with pytest.raises(OwnError) as raised:
        load_dataclass(Settings, {"windw": "batch", "zzz": 1}, "recipe.yaml: fair_advantage", OwnError)
    assert str(raised.value) == (
        "recipe.yaml: fair_advantage: unknown key(s) 'windw' (did you mean 'window'?), 'zzz'; known: window, decay"
    )


def test_a_field_that_is_not_an_init_argument_is_unknown():
    with pytest.raises(ClinfairError, match="unknown key.*'derived'"):
        load_dataclass(Settings, {"derived": 1}, "x")


def test_a_refused_value_is_one_line_naming_the_place():
    with pytest.raises(ClinfairError) as raised:
        load_dataclass(Settings, {"decay": 2}, "study.yaml")
    assert str(raised.value) == "study.yaml: decay must be in (0, 1], got 2"


def test_not_a_mapping():
    with pytest.raises(ClinfairError, match=r"^x: a mapping of Settings fields, got list$"):
        load_dataclass(Settings, [1, 2], "x")


def test_check_keys_accepts_known_keys():
    check_keys(["a"], ["a", "b"], "x")


def test_check_keys_names_the_kind_and_may_leave_a_long_known_list_out():
    with pytest.raises(OwnError) as raised:
        check_keys(
            ["lerning_rate"],
            ["learning_rate", "beta"],
            "r.yaml",
            OwnError,
            kind="recipe key",
            list_known=False,
        )
    assert str(raised.value) == "r.yaml: unknown recipe key(s) 'lerning_rate' (did you mean 'learning_rate'?)"


def test_unknown_keys_message_is_none_when_every_key_is_known_and_the_error_text_otherwise():
    assert unknown_keys_message(["a"], ["a", "b"], "x") is None
    assert unknown_keys_message([3], ["a"], "x") == "x: unknown key(s) 3; known: a"
