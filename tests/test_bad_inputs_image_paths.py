"""Bad-input corpus of a user's table task: image paths stay inside the task's image root.

An absolute path, a ``../..`` path or a symbolic link that leads outside ``image_root`` is
refused with one line naming the file, the row and the column, unless the task's YAML says
``allow_outside_root: true`` (see tests/bad_inputs.py and tests/test_bad_inputs_table.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bad_inputs import assert_one_line_error, cases
from rawdata import write_png
from test_bad_inputs_table import ROWS, own_registry, prepare, summary, user_task  # noqa: F401

SECRET = "secret.png"


def outside_image(tmp_path: Path) -> Path:
    """An image that belongs to nobody's task: beside, not inside, the task folder."""
    path = tmp_path / "private" / SECRET
    write_png(path, shade=200)
    return path


def allow_outside(folder: Path) -> None:
    text = (folder / "derm.yaml").read_text()
    (folder / "derm.yaml").write_text(text.replace("table:\n", "table:\n  allow_outside_root: true\n"))


def with_row(tmp_path: Path, image: str) -> Path:
    return user_task(tmp_path / "t", [*ROWS, ["c4", image, "nv", "Male", "30"]])


def absolute_path_outside_the_root(tmp_path, capsys, monkeypatch):
    image = outside_image(tmp_path)
    folder = with_row(tmp_path, str(image))
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code,
        err,
        "prepare",
        "labels.csv, row 4, field 'file'",
        "outside the image root",
        "allow_outside_root",
    )
    assert not (tmp_path / "out").exists()
    allow_outside(folder)
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert code == 0, err
    assert summary(tmp_path / "out")["rows"] == 4


def dot_dot_path_outside_the_root(tmp_path, capsys, monkeypatch):
    outside_image(tmp_path)
    folder = with_row(tmp_path, f"images/../../private/{SECRET}")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "row 4, field 'file'", "'..' path", "outside the image root")
    allow_outside(folder)
    assert prepare(capsys, folder, tmp_path / "out")[0] == 0


def symlink_leading_outside_the_root(tmp_path, capsys, monkeypatch):
    image = outside_image(tmp_path)
    folder = with_row(tmp_path, "images/c4.png")
    (folder / "images" / "c4.png").unlink()
    os.symlink(image, folder / "images" / "c4.png")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "row 4, field 'file'", "a link", "outside the image root")
    allow_outside(folder)
    assert prepare(capsys, folder, tmp_path / "out")[0] == 0


def symlinked_folder_leading_outside_the_root(tmp_path, capsys, monkeypatch):
    image = outside_image(tmp_path)
    folder = with_row(tmp_path, f"shared/{SECRET}")
    shutil.rmtree(folder / "shared")
    os.symlink(image.parent, folder / "shared", target_is_directory=True)
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "row 4, field 'file'", "outside the image root")


def image_root_given_and_a_path_beside_it(tmp_path, capsys, monkeypatch):
    folder = with_row(tmp_path, "../labels-images/c4.png")  # user_task wrote it beside the task folder
    text = (folder / "derm.yaml").read_text()
    (folder / "derm.yaml").write_text(text.replace("table:\n", "table:\n  image_root: .\n"))
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "row 4, field 'file'", "outside the image root")
    assert prepare(capsys, folder, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["rows"] == 3  # the row is skipped and counted, never read


def allow_outside_root_must_be_a_boolean(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t")
    text = (folder / "derm.yaml").read_text()
    (folder / "derm.yaml").write_text(text.replace("table:\n", "table:\n  allow_outside_root: sometimes\n"))
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "allow_outside_root", "true or false")


@cases(
    absolute_path_outside_the_root,
    dot_dot_path_outside_the_root,
    symlink_leading_outside_the_root,
    symlinked_folder_leading_outside_the_root,
    image_root_given_and_a_path_beside_it,
    allow_outside_root_must_be_a_boolean,
)
def test_image_paths_stay_inside_the_image_root(case, tmp_path, capsys, monkeypatch):
    case(tmp_path, capsys, monkeypatch)


def test_paths_inside_the_root_are_read(tmp_path, capsys):
    """Relative paths, a '..' that stays inside and a link inside the root are all fine."""
    folder = with_row(tmp_path, "images/sub/../c4.png")
    (folder / "images" / "sub").mkdir(exist_ok=True)
    write_png(folder / "images" / "c4.png")
    os.symlink(folder / "images" / "c1.png", folder / "images" / "alias.png")
    (folder / "labels.csv").write_text(
        (folder / "labels.csv").read_text().replace("images/c2.png", "images/alias.png")
    )
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert code == 0, err
    assert summary(tmp_path / "out")["rows"] == 4
