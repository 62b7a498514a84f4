"""`augment data scenes` on the fixture bank."""
from __future__ import annotations

import json

from click.testing import CliRunner

from product_augment.cli.data import data


def test_scenes_command_builds_sets_and_ready(tmp_path, fixture_bank):
    out = tmp_path / "sets"
    result = CliRunner().invoke(data, ["scenes", "--bank", str(fixture_bank), "--out", str(out), "--plan", "quick",
                                       "--style", "wild", "--size", "96", "--train", "3", "--val", "2",
                                       "--test", "0", "--no-sheets", "--ready"])
    assert result.exit_code == 0, result.output
    assert "shoe" in result.output and "wild/train" in result.output
    coco = json.loads((out / "wild" / "train" / "annotations.json").read_text())
    assert len(coco["images"]) == 3
    ready = (tmp_path / "READY").read_text().splitlines()
    assert [line.split(":")[0] for line in ready if line.startswith("wild/")] == ["wild/train", "wild/val"]


def test_scenes_without_bank_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(data, ["scenes", "--bank", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "no bank" in result.output
