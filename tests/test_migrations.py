"""hooks/migrations/rename_config_key.py and delete_config_key.py on their own: textual JSON
edits, idempotence, bad input.

tests/test_update.py runs them through `copier update`, both stages included.
"""

import importlib
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# copier runs each script from its folder, where delete_config_key imports rename_config_key
sys.path.insert(0, str(REPO / "hooks" / "migrations"))
rename = importlib.import_module("rename_config_key")
delete = importlib.import_module("delete_config_key")

CONFIG = """{
    "name": "run {1}",
    "metrics": ["accuracy", {"save_period": 9}],
    "trainer": {
        "epochs": 5,
        "save_period": 4,
        "nested": {"save_period": 7},
        "note": "say \\"save_period\\": 1"
    }
}
"""


def test_spans_find_keys_and_values_by_path():
    spans = rename.member_spans(CONFIG)
    key_start, key_end, value_start, value_end = spans[("trainer", "save_period")]
    assert CONFIG[key_start:key_end] == '"save_period"'
    assert CONFIG[value_start:value_end] == "4"
    _, _, value_start, value_end = spans[("trainer", "nested")]
    assert CONFIG[value_start:value_end] == '{"save_period": 7}'
    assert ("metrics", "save_period") not in spans  # objects in arrays are not config paths


def test_rename_and_set_value_change_only_their_text():
    renamed = rename.rename_key(
        CONFIG, ("trainer", "save_period"), ("trainer", "checkpoint_period")
    )
    assert renamed == CONFIG.replace('"save_period": 4', '"checkpoint_period": 4')
    changed = rename.set_value(renamed, ("trainer", "checkpoint_period"), [1, "a"])
    assert changed == CONFIG.replace('"save_period": 4', '"checkpoint_period": [1, "a"]')
    assert json.loads(changed)["trainer"]["note"] == 'say "save_period": 1'


def test_delete_removes_the_member_and_one_comma_only():
    middle = delete.delete_key(CONFIG, ("trainer", "save_period"))
    assert middle == CONFIG.replace('        "save_period": 4,\n', "")
    first = delete.delete_key(CONFIG, ("name",))
    assert first == CONFIG.replace('\n    "name": "run {1}",', "")
    last = delete.delete_key(CONFIG, ("trainer", "note"))
    assert last == CONFIG.replace(',\n        "note": "say \\"save_period\\": 1"', "")
    only = delete.delete_key(CONFIG, ("trainer", "nested", "save_period"))
    assert only == CONFIG.replace('{"save_period": 7}', "{}")
    one_line = '{"a": 1, "b": [2, {"c": 3}], "d": 4}'
    assert delete.delete_key(one_line, ("b",)) == '{"a": 1, "d": 4}'
    assert delete.delete_key(one_line, ("d",)) == '{"a": 1, "b": [2, {"c": 3}]}'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(CONFIG)
    return tmp_path


def test_migrate_renames_once_and_keeps_the_users_value(project: Path, capsys):
    config = Path("config.json")
    old, new = "trainer.save_period", "trainer.checkpoint_period"
    assert rename.migrate(config, old, new, mine=None)
    assert "renamed in config.json" in capsys.readouterr().out
    assert json.loads(config.read_text())["trainer"]["checkpoint_period"] == 4
    assert not rename.migrate(config, old, new, mine=None)  # idempotent
    assert rename.migrate(config, old, new, mine=6)  # the value the before stage set aside
    assert "keeps your value, trainer.checkpoint_period = 6" in capsys.readouterr().out
    assert config.read_text() == CONFIG.replace('"save_period": 4', '"checkpoint_period": 6')
    assert not rename.migrate(config, old, new, mine=6)


def test_migrate_never_touches_a_file_it_cannot_read_safely(project: Path, capsys):
    config = Path("config.json")
    both = CONFIG.replace('"epochs": 5', '"checkpoint_period": 5')
    config.write_text(both)
    assert not rename.migrate(config, "trainer.save_period", "trainer.checkpoint_period", None)
    assert "has both keys; left as it is" in capsys.readouterr().out
    conflicted = "<<<<<<< before updating\n" + CONFIG
    config.write_text(conflicted)
    assert not rename.migrate(config, "trainer.save_period", "trainer.checkpoint_period", 3)
    out = capsys.readouterr().out
    assert "config.json is not valid JSON" in out
    assert "set trainer.checkpoint_period to your value 3" in out
    assert config.read_text() == conflicted


def test_drop_deletes_once_and_never_touches_a_file_it_cannot_read(project: Path, capsys):
    config = Path("config.json")
    assert delete.drop(config, "trainer.save_period")
    assert "delete trainer.save_period: deleted from config.json" in capsys.readouterr().out
    assert config.read_text() == CONFIG.replace('        "save_period": 4,\n', "")
    assert not delete.drop(config, "trainer.save_period")  # idempotent
    conflicted = "<<<<<<< before updating\n" + CONFIG
    config.write_text(conflicted)
    assert not delete.drop(config, "trainer.save_period")
    assert "config.json is not valid JSON" in capsys.readouterr().out
    assert config.read_text() == conflicted


def test_delete_needs_a_stage(capsys, monkeypatch):
    monkeypatch.delenv("STAGE", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        delete.main(["trainer.tensorboard"])
    assert exit_info.value.code == 2
    assert "--stage is required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trainer.save_period", "trainer.checkpoint_period"], "--stage is required"),
        (
            ["--stage", "after", "trainer.save_period", "checkpoint_period"],
            "renames within one object only",
        ),
    ],
)
def test_bad_arguments_are_refused(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("STAGE", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        rename.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
