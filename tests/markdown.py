"""Just enough Markdown reading for the docs tests: sections, fenced blocks, tables, code spans."""

import re
from dataclasses import dataclass

FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str


def blocks(text: str, *langs: str) -> list[Block]:
    """Fenced code blocks, in order; only those of ``langs`` when given."""
    found = [Block(m["lang"], m["code"]) for m in FENCE.finditer(text)]
    return [b for b in found if not langs or b.lang in langs]


def prose(text: str) -> str:
    """``text`` without its fenced code blocks."""
    return FENCE.sub("", text)


def code_spans(text: str) -> list[str]:
    """Inline code spans outside fenced blocks."""
    return CODE_SPAN.findall(prose(text))


def section(text: str, heading: str) -> str:
    """The text under the heading whose title is ``heading``, up to the next heading of the same
    or a higher level."""
    lines = prose_aware_lines(text)
    for i, (line, in_code) in enumerate(lines):
        match = re.match(r"(#+) (.*)", line)
        if not in_code and match and match[2].strip() == heading:
            level = len(match[1])
            body = []
            for next_line, next_in_code in lines[i + 1 :]:
                deeper = re.match(r"(#+) ", next_line)
                if not next_in_code and deeper and len(deeper[1]) <= level:
                    break
                body.append(next_line)
            return "\n".join(body) + "\n"
    raise AssertionError(f"no heading {heading!r}")


def prose_aware_lines(text: str) -> list[tuple[str, bool]]:
    """Each line, and whether it is inside a fenced code block (where '#' is no heading)."""
    lines, in_code = [], False
    for line in text.splitlines():
        fence = line.lstrip().startswith("```")
        lines.append((line, in_code or fence))
        if fence:
            in_code = not in_code
    return lines


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every pipe table outside fenced blocks, as rows of ``{header: cell}``."""
    found, current, header = [], [], None
    for line in prose(text).splitlines() + [""]:
        if line.startswith("|"):
            cells = split_row(line)
            if header is None:
                header = cells
            elif not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(dict(zip(header, cells, strict=True)))
            continue
        if header is not None:
            found.append(current)
        current, header = [], None
    return found


def split_row(line: str) -> list[str]:
    """The cells of a table row; '|' inside a code span does not split."""
    cells, cell, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
    cells.append(cell.strip())
    return cells


def tables_with(text: str, *columns: str) -> list[dict[str, str]]:
    """The rows of every table whose header starts with ``columns``."""
    return [
        row
        for table in tables(text)
        if table and list(table[0])[: len(columns)] == list(columns)
        for row in table
    ]
