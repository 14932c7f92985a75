"""hooks/migrations/rename_config_key.py on its own: textual JSON edits, idempotence, bad input.

tests/test_update.py runs it through `copier update`, both stages included.
"""

import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "hooks" / "migrations" / "rename_config_key.py"
spec = importlib.util.spec_from_file_location("rename_config_key", SCRIPT)
rename = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rename)

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
