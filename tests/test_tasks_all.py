"""``--tasks all`` means the seven clinical tasks; missing prepared data is one message."""

from __future__ import annotations

from clinfair.tasks.registry import resolve_tasks
from conftest import eval_args

from clinfair.cli import main

CLINICAL = {"chexpert", "ct_hemorrhage", "vindr_mammo", "isic2020", "ham10000", "pad_ufes20", "covid_blues"}


def test_all_is_the_seven_clinical_tasks_without_synthetic():
    assert {spec.key for spec in resolve_tasks("all")} == CLINICAL
    assert [spec.key for spec in resolve_tasks("synthetic,isic2020")] == ["synthetic", "isic2020"]


def test_eval_all_without_prepared_data_lists_every_prepare_command(tmp_path, capsys):
    code = main(eval_args(tmp_path / "model", tmp_path / "data", tmp_path / "run", tasks="all"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    for task in CLINICAL:
        assert f"clinfair prepare {task} --raw <download> --out {tmp_path / 'data' / task}" in err
    assert "synthetic" not in err and not (tmp_path / "run").exists()
