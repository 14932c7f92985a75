"""Copier migration: carry the user's config over when the template renames a config key.

copier.yml lists one entry per rename (see docs/updating.md); `copier update --trust` runs this
script twice, with STAGE=before and STAGE=after in the environment:

- before: if the user changed the value of OLD in config.json, copier's three-way merge would
  conflict on that line, because the template rewrites it too. So the user's value is set aside
  (in the project's git folder) and config.json gets the old template's value back, staged, so
  the merge applies the template's rename cleanly.
- after: the renamed key gets the user's value back. Every other git-tracked JSON config that
  still has OLD (copies of config.json the user made, which copier does not merge) has it renamed.

Edits are textual: only the key or the value changes, so each file keeps its formatting and the
user's other edits. Running a stage again changes nothing more. A file that is not valid JSON is
never touched; the script says what to do by hand instead.

Usage: rename_config_key.py [--stage before|after] OLD.KEY.PATH NEW.KEY.PATH
(OLD and NEW differ in their last part only: a rename within the same object.)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONFIG = Path("config.json")
ANSWERS = Path(".copier-answers.yml")  # _answers_file in copier.yml
TEMPLATE_ROOT = Path(__file__).resolve().parents[2]

Span = tuple[int, int, int, int]  # key start, key end, value start, value end
WHITESPACE = " \t\r\n"


def member_spans(text: str) -> dict[tuple[str, ...], Span]:
    """Where each object member's key and value are in ``text``, by key path.

    Members of objects inside arrays are not listed: config key paths do not go through arrays.
    """
    json.loads(text)  # fails with the json module's own message on invalid input
    decoder = json.JSONDecoder()
    spans: dict[tuple[str, ...], Span] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in WHITESPACE:
            i += 1
        return i

    def value_end(i: int, path: tuple[str, ...]) -> int:
        if text[i] != "{":
            return decoder.raw_decode(text, i)[1]
        i = skip(i + 1)
        while text[i] != "}":
            key, key_end = json.decoder.scanstring(text, i + 1)
            value_start = skip(skip(key_end) + 1)  # past the ':'
            end = value_end(value_start, (*path, key))
            spans[(*path, key)] = (i, key_end, value_start, end)
            i = skip(end)
            if text[i] == ",":
                i = skip(i + 1)
        return i + 1

    value_end(skip(0), ())
    return spans


def split(key_path: str) -> tuple[str, ...]:
    return tuple(key_path.split("."))


def rename_key(text: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    key_start, key_end, _, _ = member_spans(text)[old]
    return text[:key_start] + json.dumps(new[-1]) + text[key_end:]


def set_value(text: str, path: tuple[str, ...], value: Any) -> str:
    _, _, value_start, value_end = member_spans(text)[path]
    return text[:value_start] + json.dumps(value) + text[value_end:]


def value_at(text: str, path: tuple[str, ...]) -> Any:
    _, _, value_start, value_end = member_spans(text)[path]
    return json.loads(text[value_start:value_end])


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: unlike ==, true is not 1."""
    return json.dumps(a) == json.dumps(b)


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def stash_file(name: str) -> Path:
    """Where the before stage leaves the user's value for the after stage."""
    return Path(git("rev-parse", "--git-path", f"copier-{name}.json"))


def stash_key() -> dict[str, str]:
    """What a stash belongs to: this project folder at this commit (copier commits nothing)."""
    return {"head": git("rev-parse", "HEAD"), "project": git("rev-parse", "--show-prefix")}


def read_stash(stash: Path) -> Any:
    """The value set aside for this project and commit; None when there is none (or a stale one)."""
    if not stash.exists():
        return None
    saved = json.loads(stash.read_text())
    return saved["value"] if saved["key"] == stash_key() else None


def old_template_config(ref: str) -> str:
    """config.json as the project's current template version renders it with its answers."""
    import copier  # the interpreter that runs copier runs this script
    import yaml

    answers = yaml.safe_load(ANSWERS.read_text())
    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory() as folder:
        copier.run_copy(
            str(TEMPLATE_ROOT),
            folder,
            data=data,
            vcs_ref=ref,
            defaults=True,
            quiet=True,
            unsafe=True,
            skip_tasks=True,
        )
        return (Path(folder) / CONFIG).read_text()


def set_aside(key: str, stash: Path, label: str, outcome: str) -> None:
    """Before the merge: when the user changed ``key`` in config.json, keep their value in
    ``stash`` and put the old template's value back, staged, so that the template's change of
    that line merges cleanly. ``label`` starts each message, ``outcome`` ends the one printed."""
    if not CONFIG.is_file():
        return
    text = CONFIG.read_text()
    try:
        spans = member_spans(text)
    except json.JSONDecodeError as error:
        print(f"{label}: {CONFIG} is not valid JSON ({error}); left as it is")
        return
    if split(key) not in spans:
        return
    mine = value_at(text, split(key))
    ref = os.environ.get("VERSION_FROM", "")
    try:
        template_value = value_at(old_template_config(ref), split(key))
    except Exception as error:  # the update goes on; at worst the merge marks a conflict
        print(f"{label}: no value of {key} in template version {ref!r} ({error!r})")
        return
    if same(mine, template_value):  # nothing to keep, or set aside already
        return
    stash.write_text(json.dumps({"key": stash_key(), "value": mine}))
    CONFIG.write_text(set_value(text, split(key), template_value))
    git("add", "--", str(CONFIG))
    print(
        f"{label}: set your {key} = {json.dumps(mine)} aside so that the update merges "
        f"cleanly; {outcome}"
    )


def release(stash: Path, mine: Any) -> None:
    """After the merge: unstage config.json, which the before stage staged, and drop the stash."""
    if mine is not None and CONFIG.is_file() and is_json(CONFIG.read_text()):
        git("reset", "-q", "--", str(CONFIG))
    stash.unlink(missing_ok=True)


def before(old: str, new: str) -> None:
    set_aside(
        old, stash_file(f"rename-{old}-{new}"), f"rename {old} -> {new}", f"it comes back as {new}"
    )


def tracked_json_files() -> Iterator[Path]:
    """JSON files in git besides config.json: configs the user derived from it, among others."""
    for name in git("ls-files", "-z", "--", "*.json").split("\0"):
        if name and Path(name) != CONFIG:
            yield Path(name)


def after(old: str, new: str) -> None:
    stash = stash_file(f"rename-{old}-{new}")
    mine = read_stash(stash)
    changed = [path for path in (CONFIG, *tracked_json_files()) if migrate(path, old, new, mine)]
    release(stash, mine)
    if not changed:
        print(f"rename {old} -> {new}: nothing left to change")


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def migrate(path: Path, old: str, new: str, mine: Any) -> bool:
    """Rename ``old`` to ``new`` in ``path``; in config.json, give it the user's value ``mine``."""
    if not path.is_file():
        return False
    mine = mine if path == CONFIG else None
    text = path.read_text()
    try:
        spans = member_spans(text)
    except json.JSONDecodeError as error:
        if path == CONFIG:
            todo = f"set {new} to your value {json.dumps(mine)}" if mine is not None else ""
            print(
                f"rename {old} -> {new}: {path} is not valid JSON ({error}); left as it is: "
                f"resolve its conflicts, then {todo or f'check that it has {new}, not {old}'}"
            )
        return False
    has_old, has_new = split(old) in spans, split(new) in spans
    if has_old and has_new:
        print(f"rename {old} -> {new}: {path} has both keys; left as it is, keep one by hand")
        return False
    if has_old:
        text = rename_key(text, split(old), split(new))
        print(f"rename {old} -> {new}: renamed in {path}")
    if mine is not None and (has_old or has_new) and not same(value_at(text, split(new)), mine):
        text = set_value(text, split(new), mine)
        print(f"rename {old} -> {new}: {path} keeps your value, {new} = {json.dumps(mine)}")
    if text == path.read_text():
        return False
    path.write_text(text)
    return True


def stage_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of a migration script: ``--stage``, which copier sets as STAGE."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--stage", choices=("before", "after"), default=os.environ.get("STAGE"))
    return parser


def run_stage(parser: argparse.ArgumentParser, stage: str | None, run: Callable[[], None]) -> int:
    """Run one stage of a migration; a failed git command is one line on stderr, exit code 1."""
    if stage is None:
        parser.error("--stage is required when not run by copier (which sets STAGE)")
    try:
        run()
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd)}: {error.stderr.strip()}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("old", metavar="OLD.KEY.PATH")
    parser.add_argument("new", metavar="NEW.KEY.PATH")
    args = parser.parse_args(argv)
    if args.stage is not None and split(args.old)[:-1] != split(args.new)[:-1]:
        parser.error(f"{args.old} -> {args.new}: renames within one object only")
    stage = before if args.stage == "before" else after
    return run_stage(parser, args.stage, lambda: stage(args.old, args.new))


if __name__ == "__main__":
    sys.exit(main())
