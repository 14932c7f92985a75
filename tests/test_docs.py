"""The docs and the READMEs say what the code does, and fail here when they stop to.

- config keys: every key of every variant's config.json is in the config reference (docs/config.md)
  with its default, and every key there exists; each generated README lists exactly its own keys;
- command-line flags in the docs and READMEs exist in ``train.py --help`` / ``test.py --help`` (or
  in the help of the other tool they belong to);
- commands: getting-started.md and the generated README's quick start are executed
  (tests/doc_commands.py maps each documented command to the executed one);
- the troubleshooting page shows every bad-input error of the project's tests, the question
  tables every answer of copier.yml, and ``mkdocs build --strict`` passes.
"""

import ast
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy

from tests import markdown
from tests.conftest import (
    METRICS,
    MNIST_DATA,
    REPO,
    VARIANTS,
    python,
    run,
    shared_group,
    variant_id,
)
from tests.doc_commands import TRAIN_SAMPLES, DocShell, command_lines

DOCS = REPO / "docs"
CONFIG_REFERENCE = DOCS / "config.md"
README_CONFIG = "Configuration (config.json)"
README_QUICK_START = "Quick start"
SHELL = ("bash", "sh", "console")
TOOLS = ("python", "torchrun", "copier", "sbatch", "pip")  # lines of text blocks that are commands
QUESTIONS = yaml.safe_load((REPO / "copier.yml").read_text())

# Flags of other tools that the docs mention on their own (e.g. "`--trust` is needed"); each must
# be in that tool's help (test_other_tools_flags_exist).
OTHER_TOOL_FLAGS = {
    "copier": {
        "--trust",
        "--defaults",
        "--data",
        "--vcs-ref",
        "--conflict",
        "--context-lines",
        "--prereleases",
        "--skip",
    },
    "torchrun": {
        "--standalone",
        "--nproc_per_node",
        "--nnodes",
        "--node_rank",
        "--rdzv_backend",
        "--rdzv_endpoint",
        "--rdzv_id",
        "--master_addr",
        "--master_port",
    },
    "sbatch": {"--nodes", "--gpus-per-node", "--signal", "--array"},
    "benchmarks/bench.py": {
        "--overrides",
        "--epochs-timed",
        "--repeats",
        "--runs",
        "--threads",
        "--python",
    },
}
# Scripts whose arguments go to train.py, and how a command line names them.
TRAIN_SCRIPTS = {"train.py", "slurm/train.sbatch"}
TUNE_SCRIPTS = {"tune.py", "slurm/tune.sbatch"}  # their arguments go to tune.py
SCRIPTS = (
    "train.py",
    "test.py",
    "tune.py",
    "predict.py",
    "export.py",
)  # the generated project's commands
BENCHMARKS = {"benchmarks/bench.py", "benchmarks/predict_bench.py"}
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
KEY_SPAN = re.compile(r"\+?[a-z_]+(\.[A-Za-z_]\w*)*(=.*)?")
FILE_SUFFIX = re.compile(
    r"\.(py|json|md|pth|yml|yaml|toml|log|sbatch|gz|txt|csv|png|pt2|onnx|safetensors)\b"
)


@dataclass(frozen=True)
class Variant:
    answers: dict[str, Any]
    config: dict[str, Any]
    readme: str

    @property
    def id(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.answers.items())


def key_paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every dotted key path of a nested dict (objects included) and its value."""
    paths = {}
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            paths[path] = value
            paths.update(key_paths(value, path + "."))
    return paths


def leaf_paths(config: dict[str, Any]) -> dict[str, Any]:
    """The key paths whose value is not a non-empty object: what a reference must document."""
    return {p: v for p, v in key_paths(config).items() if not (isinstance(v, dict) and v)}


def covered(path: str, documented: set[str]) -> bool:
    """Documented itself, or inside a documented ``.args`` object (constructor arguments, shown
    with their defaults as one JSON object)."""
    parts = path.split(".")
    ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
    return path in documented or any(
        a in documented and (a.endswith(".args") or a == "tune.params") for a in ancestors
    )


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON, types included (``1`` is not ``1.0`` nor ``true``)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def reference_rows(text: str) -> dict[str, dict[str, str]]:
    """``{key: row}`` of every ``| key | default | meaning |`` table."""
    rows = {}
    for row in markdown.tables_with(text, "key", "default", "meaning"):
        (key,) = re.findall(r"`([^`]+)`", row["key"]) or [row["key"]]
        assert key not in rows, f"{key} is documented twice"
        rows[key] = row
    return rows


def documented_default(row: dict[str, str]) -> Any:
    match = re.fullmatch(r"`([^`]*)`", row["default"])
    assert match, f"default of {row['key']}: write it as JSON in backticks, got {row['default']!r}"
    return json.loads(match[1])


def show(problems: list[str | tuple[str, str]], limit: int = 25) -> str:
    """One line per problem; ``(problem, variant)`` pairs are grouped by problem."""
    where: dict[str, list[str]] = {}
    for problem in problems:
        message, variant = problem if isinstance(problem, tuple) else (problem, "")
        where.setdefault(message, []).append(variant)
    lines = [
        message + (f" [{len(found)} variants, e.g. ({found[0]})]" if found[0] else "")
        for message, found in where.items()
    ]
    more = f"\n... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


# --- renders ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_source(tmp_path_factory) -> Path:
    """The template as Copier sees this working tree (tracked and untracked files, not ignored
    ones), in a plain folder: rendering from it skips Copier's git clone of every render."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO)
    assert listed.returncode == 0, listed.stderr
    source = tmp_path_factory.mktemp("template_source")
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    return source


def render(source: Path, dst: Path, answers: dict[str, Any], only: list[str] | None = None) -> Path:
    exclude = ["*", *(f"!/{name}" for name in only)] if only else []
    run_copy(str(source), dst, data=answers, defaults=True, quiet=True, exclude=exclude)
    return dst


@pytest.fixture(scope="session")
def variants(rendered_variants) -> list[Variant]:
    """README.md and config.json of every variant (tests/conftest.py VARIANTS), read from the
    render shared with tests/test_render.py: its tests belong to ``shared_group["variants"]``."""
    return [
        Variant(answers, json.loads((project / "config.json").read_text()), readme(project))
        for answers, project in rendered_variants
    ]


def readme(project: Path) -> str:
    return (project / "README.md").read_text()


@pytest.fixture(scope="session")
def defaults(template_source, tmp_path_factory) -> Variant:
    """The project of the default answers (README.md and config.json)."""
    project = render(
        template_source,
        tmp_path_factory.mktemp("docs_defaults") / "p",
        {},
        ["README.md", "config.json"],
    )
    return Variant(
        {}, json.loads((project / "config.json").read_text()), (project / "README.md").read_text()
    )


def representatives(answers_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One variant per task and per logger, with the most GPUs (so that slurm/ is there): what
    can change the command line."""
    chosen, seen = [], set()
    for answers in sorted(answers_list, key=lambda a: -a["n_gpu"]):
        traits = {("task", answers["task"]), ("logger", answers["logger"])}
        if not traits <= seen:
            chosen.append(answers)
            seen |= traits
    return chosen


@pytest.fixture(scope="session")
def full_projects(rendered_variants) -> list[tuple[dict[str, Any], Path]]:
    """The representatives, from the render shared with tests/test_render.py (``shared_group[
    "variants"]``), which the ``--help`` runs leave as it is (``python -B``: no bytecode)."""
    chosen = representatives([answers for answers, _ in rendered_variants])
    return [(answers, project) for answers, project in rendered_variants if answers in chosen]


@pytest.fixture(scope="session")
def cli_flags(full_projects) -> dict[str, set[str]]:
    """Flags in ``--help`` of each script, over the representative projects."""
    script = (
        "import contextlib, runpy, sys\n"
        f"for name in {SCRIPTS}:\n"
        "    sys.argv = [name, '--help']\n"
        "    with contextlib.suppress(SystemExit):\n"
        "        runpy.run_path(name, run_name='__main__')\n"
        "    print('=====')\n"
    )
    flags: dict[str, set[str]] = {name: set() for name in SCRIPTS}
    for _, project in full_projects:
        helped = python("-B", "-c", script, cwd=project, timeout=300)
        assert helped.returncode == 0, helped.stderr[-3000:]
        for name, text in zip(SCRIPTS, helped.stdout.split("=====\n"), strict=False):
            flags[name] |= set(FLAG.findall(text))
    return flags


@pytest.fixture(scope="session")
def tool_help(full_projects) -> dict[str, str]:
    """The help text of the other tools the docs show commands of."""
    copier = [
        python("-m", "copier", sub, "--help", cwd=REPO).stdout
        for sub in ("copy", "update", "check-update")
    ]
    torchrun = python("-m", "torch.distributed.run", "--help", cwd=REPO)
    slurm = [p / "slurm" for _, p in full_projects if (p / "slurm").is_dir()]
    assert slurm, "no representative project has slurm/"
    return {
        "copier": "\n".join(copier),
        "torchrun": torchrun.stdout,
        # the #SBATCH lines of its scripts are the flags the docs may mention
        "sbatch": "".join(p.read_text() for p in sorted(slurm[0].glob("*.sbatch"))),
        "benchmarks/bench.py": python("benchmarks/bench.py", "--help", cwd=REPO).stdout,
        "benchmarks/predict_bench.py": python(
            "benchmarks/predict_bench.py", "--help", cwd=REPO
        ).stdout,
    }


# --- config keys --------------------------------------------------------------------------------


@shared_group["variants"]
def test_config_reference_documents_every_key_of_every_variant(variants, defaults):
    rows = reference_rows(CONFIG_REFERENCE.read_text())
    documented = set(rows)
    problems = [
        (f"{path}: in config.json but not in docs/config.md", v.id)
        for v in variants
        for path in leaf_paths(v.config)
        if not covered(path, documented)
    ]
    paths_of = [key_paths(v.config) for v in variants]
    for key, row in rows.items():
        having = [(v, paths) for v, paths in zip(variants, paths_of, strict=True) if key in paths]
        if not having:
            problems.append(f"{key}: documented in docs/config.md but in no variant's config.json")
            continue
        expected = key_paths(defaults.config).get(key, having[0][1][key])
        if not same_json(documented_default(row), expected):
            problems.append(
                f"{key}: docs/config.md says {row['default']}, the config has "
                f"{json.dumps(expected)}"
            )
        if len(having) < len(variants):
            problems += condition_notes(key, row, [v for v, _ in having], variants)
    assert not problems, show(problems)


def condition_notes(
    key: str, row: dict[str, str], having: list[Variant], variants: list[Variant]
) -> list[str]:
    """A key only some answers produce must say which: 'Only with `logger: tensorboard`'."""
    without = [v for v in variants if v not in having]
    notes = []
    for question in variants[0].answers:
        values_with = {json.dumps(v.answers[question]) for v in having}
        values_without = {json.dumps(v.answers[question]) for v in without}
        if not values_with & values_without:
            notes = [f"{question}: {json.loads(value)}" for value in sorted(values_with)]
            break
    missing = [note for note in notes if f"`{note}`" not in row["meaning"]]
    if "Only with" not in row["meaning"] or missing:
        wanted = " or ".join(f"`{n}`" for n in notes) or "the answers that produce it"
        return [f"{key}: only some answers produce it; its meaning must say 'Only with {wanted}'"]
    return []


@shared_group["variants"]
def test_each_generated_readme_documents_exactly_its_config(variants):
    problems = []
    for v in variants:
        rows = reference_rows(markdown.section(v.readme, README_CONFIG))
        paths = key_paths(v.config)
        problems += [
            (f"{path}: in config.json but not in the README's table", v.id)
            for path in leaf_paths(v.config)
            if not covered(path, set(rows))
        ]
        for key, row in rows.items():
            if key not in paths:
                problems.append((f"{key}: in the README's table but not in config.json", v.id))
            elif not same_json(documented_default(row), paths[key]):
                problems.append(
                    (
                        f"{key}: the README says {row['default']}, config.json has "
                        f"{json.dumps(paths[key])}",
                        v.id,
                    )
                )
    assert not problems, show(problems)


def mentioned_keys(text: str) -> set[str]:
    """Config key paths the text names: code spans that look like one (``trainer.monitor``,
    ``n_gpu=0``) and ``KEY.PATH=VALUE`` arguments of train.py and test.py commands."""
    keys = set()
    for span in markdown.code_spans(text):
        if " " not in span and KEY_SPAN.fullmatch(span) and not FILE_SUFFIX.search(span):
            keys.add(span.split("=")[0])
    for command in commands(text):
        for owner, tokens in command_parts(command):
            if owner in TRAIN_SCRIPTS | TUNE_SCRIPTS | {"test.py"}:
                keys |= {t.split("=")[0] for t in tokens if "=" in t and not t.startswith("-")}
    return keys


def doc_texts() -> dict[str, str]:
    texts = {str(p.relative_to(REPO)): p.read_text() for p in sorted(DOCS.glob("*.md"))}
    texts["README.md"] = (REPO / "README.md").read_text()
    return texts


def readme_texts(variants) -> dict[str, str]:
    """Each distinct generated README, named by the first variant that has it."""
    texts = {}
    for v in variants:
        texts.setdefault(v.readme, f"README of ({v.id})")
    return {name: text for text, name in texts.items()}


@shared_group["variants"]
def test_every_key_the_docs_mention_exists(variants):
    paths = set().union(*(key_paths(v.config) for v in variants))
    top_level = {p.split(".")[0] for p in paths}
    problems = []
    for name, text in {**doc_texts(), **readme_texts(variants)}.items():
        for key in sorted(mentioned_keys(text)):
            if key.startswith("+") or key.split(".")[0] not in top_level:
                continue  # adds a key on purpose, or is no config key (KEY.PATH, a module)
            if key not in paths:
                problems.append(f"{name}: mentions config key {key}, which no config.json has")
    assert not problems, show(problems)


# --- command-line flags -------------------------------------------------------------------------


def commands(text: str) -> list[list[str]]:
    """Command lines of the text: each line of its shell blocks, lines of text blocks and code
    spans that start with a command; split into words (and at ``&&``, ``;`` and ``|``)."""
    lines = [line for b in markdown.blocks(text, *SHELL) for line in command_lines(b.code)]
    lines += [
        line
        for b in markdown.blocks(text, "text")
        for line in b.code.splitlines()
        if line.startswith(tuple(f"{tool} " for tool in TOOLS))
    ]
    lines += [s for s in markdown.code_spans(text) if re.match(r"[a-z][\w./-]* ", s)]
    found = []
    for line in lines:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split()
        current = []
        for word in words + [";"]:
            if word in ("&&", ";", "|", "||"):
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def command_parts(words: list[str]) -> list[tuple[str, list[str]]]:
    """``[(owner, words)]``: the tool's own words, then those of the script it runs, e.g.
    ``torchrun --nnodes=2 train.py -c x`` -> torchrun: [--nnodes=2], train.py: [-c, x]."""
    for i, word in enumerate(words):
        if word in TRAIN_SCRIPTS | TUNE_SCRIPTS | set(SCRIPTS[1:]) | BENCHMARKS:
            tool = "python" if words[0] == "python" else words[0]
            return [(tool, words[1:i]), (word, words[i + 1 :])]
    return [(words[0], words[1:])]


def flags_of(words: list[str]) -> set[str]:
    return {w.split("=")[0] for w in words if FLAG.fullmatch(w.split("=")[0])}


def declared_flags(text: str) -> set[str]:
    """Flags a page adds itself, in a ``FLAGS = {"KEY.PATH": ("--flag", ...)}`` snippet."""
    declared = set()
    for block in markdown.blocks(text, "python"):
        if "FLAGS = {" in block.code:
            declared |= set(re.findall(r"[\"'](--?[\w-]+)[\"']", block.code))
    return declared


def standalone_flags(text: str) -> set[str]:
    """Flags in code spans of their own: `--lr`, `-c/--config`, `--data logger=none`."""
    flags = set()
    for span in markdown.code_spans(text):
        if span.startswith("-"):
            flags |= set(FLAG.findall(span))
    return flags


@shared_group["variants"]
def test_every_flag_the_docs_mention_exists(variants, cli_flags, tool_help):
    script_flags = set().union(*cli_flags.values())
    other_flags = set().union(*OTHER_TOOL_FLAGS.values())
    problems = []
    for name, text in {**doc_texts(), **readme_texts(variants)}.items():
        declared = declared_flags(text)
        for flag in sorted(standalone_flags(text) - script_flags - other_flags - declared):
            problems.append(f"{name}: {flag} is in no --help of {', '.join(SCRIPTS)}")
        for words in commands(text):
            for owner, tokens in command_parts(words):
                known = {
                    "train.py": cli_flags["train.py"] | declared,
                    "slurm/train.sbatch": cli_flags["train.py"],
                    **{script: cli_flags[script] for script in SCRIPTS[1:]},
                    "slurm/tune.sbatch": cli_flags["tune.py"],
                }.get(owner)
                if known is None and owner in tool_help:
                    known = set(FLAG.findall(tool_help[owner]))
                if known is not None:
                    problems += [
                        f"{name}: {flag} is not a flag of {owner}: {shlex.join(words)}"
                        for flag in sorted(flags_of(tokens) - known)
                    ]
    assert not problems, show(problems)


@shared_group["variants"]
def test_other_tools_flags_exist(tool_help):
    problems = [
        f"{flag} is not in the help of {tool}"
        for tool, flags in OTHER_TOOL_FLAGS.items()
        for flag in sorted(flags - set(FLAG.findall(tool_help[tool])))
    ]
    assert not problems, "\n".join(problems)


# --- pages ---------------------------------------------------------------------------------------


def test_mkdocs_builds_strict(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    nav = {page.relative_to(DOCS).with_suffix("") for page in DOCS.glob("*.md")}
    assert all(
        (tmp_path / "site" / ("" if p.name == "index" else p) / "index.html").is_file() for p in nav
    )


def bad_input_cases() -> dict[str, list[str]]:
    """CASES of the generated project's bad-input test: case -> parts of its one-line error."""
    source = (REPO / "template" / "tests" / "test_bad_input.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CASES":
            return ast.literal_eval(node.value)
    raise AssertionError("template/tests/test_bad_input.py has no CASES")


def test_troubleshooting_shows_every_bad_input_error():
    rows = markdown.tables_with((DOCS / "troubleshooting.md").read_text(), "case", "error")
    documented = {row["case"]: row for row in rows}
    cases = bad_input_cases()
    problems = [
        f"case '{c}' of template/tests/test_bad_input.py is not in troubleshooting.md"
        for c in cases
        if c not in documented
    ]
    problems += [
        f"case '{c}' in troubleshooting.md is no case of test_bad_input.py"
        for c in documented
        if c not in cases
    ]
    problems += [
        f"case '{c}': its error in troubleshooting.md lacks {part!r}"
        for c, parts in cases.items()
        if c in documented
        for part in parts
        if part not in documented[c]["error"]
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", ["docs/getting-started.md", "README.md"])
def test_question_tables_show_every_question_and_choice(page):
    rows = markdown.tables_with((REPO / page).read_text(), "question", "choices")
    by_question = {q: row for row in rows for q in re.findall(r"`(\w+)`", row["question"])}
    problems = []
    for name, spec in QUESTIONS.items():
        if name.startswith("_") or spec.get("when") is False:
            continue
        if name not in by_question:
            problems.append(f"{page}: question {name} is missing")
            continue
        row = by_question[name]
        if "choices" in spec:
            listed = set(re.findall(r"`([^`]+)`", row["choices"]))
            offered = spec["choices"]  # a mapping, or a Jinja-templated one (per-task metrics)
            if isinstance(offered, str):
                choices = set(re.findall(r":\s*(\w+)\s*$", offered, re.M))
            else:
                choices = {str(value) for value in offered.values()}
            if listed != choices:
                problems.append(
                    f"{page}: {name} lists {sorted(listed)}, copier.yml offers {sorted(choices)}"
                )
        default = spec.get("default")
        one_question = len(re.findall(r"`(\w+)`", row["question"])) == 1
        if "default" in row and one_question and "{{" not in str(default):
            wanted = default if isinstance(default, list) else [default]
            problems += [
                f"{page}: the default of {name} should show `{value}`"
                for value in wanted
                if f"`{value}`" not in row["default"]
            ]
    problems += [
        f"{page}: {q} is no question of copier.yml" for q in by_question if q not in QUESTIONS
    ]
    assert not problems, "\n".join(problems)


def test_logger_table_lists_every_logger():
    rows = markdown.tables_with((DOCS / "project.md").read_text(), "logger")
    listed = {re.sub(r"`", "", row["logger"]) for row in rows}
    assert listed == set(QUESTIONS["logger"]["choices"].values())


# --- commands -------------------------------------------------------------------------------------


def assert_trained_and_tested(project: Path, config: dict[str, Any]) -> None:
    """One run folder with a best model, finite test metrics and the class names; classification
    metrics far above chance (0.1)."""
    (run,) = (project / "saved" / "models" / config["name"]).glob("*")
    assert (run / "model_best.pth").is_file()
    metrics = json.loads((run / "test_metrics.json").read_text())
    names = metrics.pop("class_names")  # what the figures' and per-class numbers' labels are
    assert names and all(isinstance(name, str) for name in names), names
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    per_class = metrics.pop("per_class", None)  # a classifier's precision, recall and support
    assert (per_class is not None) == (answers["task"] == "classification"), metrics
    assert per_class is None or list(per_class) == names, per_class
    assert set(metrics) == {"loss", *config["metrics"]}
    assert all(math.isfinite(value) for value in metrics.values()), metrics
    scores = set(config["metrics"]) & set(METRICS["classification"])
    assert all(metrics[name] > 0.5 for name in scores), metrics
    log = project / "saved" / "log" / config["name"] / run.name
    events = list(log.glob("events.out.tfevents.*"))
    assert bool(events) == (answers["logger"] == "tensorboard"), list(log.iterdir())


def assert_installed(shell: DocShell, project: Path) -> None:
    """``pip install -e`` put the project into the throwaway environment, not into ours."""
    name = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
    name = name.replace("-", "_")
    assert list(shell.venv.glob(f"lib/python*/site-packages/{name}-*.dist-info"))
    assert not list(Path(sys.executable).parents[1].glob(f"lib/python*/site-packages/{name}-*"))


@pytest.mark.slow
def test_getting_started_commands_run(mnist_subset, tmp_path):
    """Every shell block of getting-started.md, in order, each starting in the same folder (on the
    first real MNIST images)."""
    work = tmp_path / "work"
    work.mkdir()
    shell = DocShell(work, tmp_path / "venv", mnist_subset)
    for block in markdown.blocks((DOCS / "getting-started.md").read_text(), "bash"):
        shell.cwd = work
        shell.run_block(block.code)
    trained = [e for e in shell.history if e.argv[:2] == ["python", "train.py"]]
    assert trained and trained[0].argv[-1] == f"trainer.len_epoch={TRAIN_SAMPLES // 256}"
    project = work / "my_project"
    assert_installed(shell, project)
    assert_trained_and_tested(project, json.loads((project / "config.json").read_text()))
    cpu = json.loads((work / "my_cpu_project" / "config.json").read_text())
    cpu_answers = yaml.safe_load((work / "my_cpu_project" / ".copier-answers.yml").read_text())
    assert cpu["n_gpu"] == 0 and cpu_answers["logger"] == "none"


def test_template_readme_shows_the_getting_started_commands():
    readme = markdown.section((REPO / "README.md").read_text(), "Generate a project")
    (first, *_) = markdown.blocks((DOCS / "getting-started.md").read_text(), "bash")
    assert markdown.blocks(readme, "bash")[0].code == first.code


# the quick start shows the dataset's commands and the run name (MNIST: the task's; folder: the
# project's): the last variant of each task and dataset runs it (the first variants are close to
# the defaults, which getting-started already runs);
# test_quick_start_variants_show_every_quick_start checks that none is missed
QUICK_START_VARIANTS = list({(a["task"], a["dataset"]): a for a in VARIANTS}.values())


def quick_start(readme_text: str) -> str:
    (block,) = markdown.blocks(markdown.section(readme_text, README_QUICK_START), "bash")
    return block.code


@shared_group["variants"]
def test_quick_start_variants_show_every_quick_start(variants):
    shown = {quick_start(v.readme) for v in variants}
    run = {quick_start(v.readme) for v in variants if v.answers in QUICK_START_VARIANTS}
    assert run == shown


@pytest.mark.slow
@pytest.mark.parametrize("answers", QUICK_START_VARIANTS, ids=variant_id)
def test_generated_readme_quick_start_runs(answers, template_source, mnist_subset, tmp_path):
    """The quick start of the project's README, run in it (on the first real MNIST images)."""
    project = render(template_source, tmp_path / "project", answers)
    config = json.loads((project / "config.json").read_text())
    shell = DocShell(project, tmp_path / "venv", mnist_subset)
    shell.run_block(quick_start(readme(project)))
    assert_installed(shell, project)
    assert_trained_and_tested(project, config)
    assert any(e.argv[0] == "pytest" and "passed" in e.result.stdout for e in shell.history)


def test_make_targets_of_the_template_readme(tmp_path):
    """README.md's two commands: `make demo DATA_DIR=...` renders, trains and tests on that
    MNIST; `make test` runs pytest, and the CI runs `make test`."""
    readme = (REPO / "README.md").read_text()
    assert "make demo DATA_DIR=../shared/data" in readme and "make test" in readme
    demo = run(["make", "--no-print-directory", "-n", "demo", f"DATA_DIR={MNIST_DATA}"], REPO)
    assert demo.returncode == 0, demo.stderr
    steps = demo.stdout.replace("\\\n", " ").splitlines()
    assert any("copier copy" in s and "--defaults" in s for s in steps), demo.stdout
    data = f"data_loader.args.data_dir={os.path.abspath(MNIST_DATA)}"  # make's abspath
    assert any("train.py" in s and data in s for s in steps), demo.stdout
    assert any("test.py" in s and "model_best.pth" in s and data in s for s in steps), demo.stdout
    test = run(["make", "--no-print-directory", "-n", "test"], REPO)
    assert test.returncode == 0 and "-m pytest" in test.stdout.splitlines()[-1], test.stdout
    ci = [
        line
        for line in (REPO / ".ci/run").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ci[-1] == "make test"
