"""Copier migration: drop a config key that the template no longer has.

copier.yml lists one entry per deleted key (see docs/updating.md); `copier update --trust` runs
this script twice, with STAGE=before and STAGE=after in the environment, like
rename_config_key.py, whose helpers it uses:

- before: if the user changed the key's value in config.json, the template's deletion of that
  line would conflict with their change. So their value is set aside and config.json gets the
  old template's value back, staged, so that the merge deletes the line cleanly.
- after: the key is deleted from config.json (when the merge left it) and from every other
  git-tracked JSON config (copies the user made, which copier does not merge). A value the user
  had set is printed with NOTE, which says what replaces the key.

Edits are textual: the member and its comma go, the rest of each file stays as it was. Running a
stage again changes nothing more; a file that is not valid JSON is never touched.

Usage: delete_config_key.py [--stage before|after] KEY.PATH [NOTE]
"""

import json
import sys
from pathlib import Path

from rename_config_key import (
    CONFIG,
    WHITESPACE,
    member_spans,
    read_stash,
    release,
    run_stage,
    set_aside,
    split,
    stage_parser,
    stash_file,
    tracked_json_files,
)


def delete_key(text: str, path: tuple[str, ...]) -> str:
    """``text`` without the member at ``path`` and the comma that separated it from the next
    member (or, for the last member, from the previous one)."""
    key_start, _, _, value_end = member_spans(text)[path]
    start = len(text[:key_start].rstrip(WHITESPACE))  # just past the token before the member
    after = len(text) - len(text[value_end:].lstrip(WHITESPACE))  # the token after it
    if text[after] == ",":
        return text[:start] + text[after + 1 :]
    if text[start - 1] == ",":
        start -= 1
    return text[:start] + text[value_end:]


def drop(path: Path, key: str) -> bool:
    """Delete ``key`` from the JSON file ``path``; False when it has none or is not valid JSON."""
    if not path.is_file():
        return False
    text = path.read_text()
    try:
        spans = member_spans(text)
    except json.JSONDecodeError as error:
        if path == CONFIG:
            print(
                f"delete {key}: {path} is not valid JSON ({error}); left as it is: resolve its "
                f"conflicts, then delete {key}"
            )
        return False
    if split(key) not in spans:
        return False
    path.write_text(delete_key(text, split(key)))
    print(f"delete {key}: deleted from {path}")
    return True


def before(key: str) -> None:
    set_aside(key, stash_file(f"delete-{key}"), f"delete {key}", "the key goes")


def after(key: str, note: str) -> None:
    stash = stash_file(f"delete-{key}")
    mine = read_stash(stash)
    changed = [path for path in (CONFIG, *tracked_json_files()) if drop(path, key)]
    release(stash, mine)
    if mine is not None:
        print(f"delete {key}: your value {json.dumps(mine)} went with the key. {note}".rstrip())
    elif not changed:
        print(f"delete {key}: nothing left to change")


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("key", metavar="KEY.PATH")
    parser.add_argument("note", nargs="?", default="", help="what replaces the key")
    args = parser.parse_args(argv)
    if args.stage == "before":
        return run_stage(parser, args.stage, lambda: before(args.key))
    return run_stage(parser, args.stage, lambda: after(args.key, args.note))


if __name__ == "__main__":
    sys.exit(main())
