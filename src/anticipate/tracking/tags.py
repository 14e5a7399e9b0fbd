"""Every run tag the project writes and every MLflow search filter it builds, in one place.

Pipelines name tags through these constants and ask for filters through these
builders; none of them writes ``tags.`anticipate.command` = '...'`` by hand.
Values are quoted by :func:`quote`, so a name with a quote in it cannot change the
meaning of a filter.
"""

from __future__ import annotations

import re

from anticipate.errors import UsageError

# --------------------------------------------------------------------------- tag names
TAG_COMMAND = "anticipate.command"  #: the anticipate command that made the run (train, evaluate, ...)
TAG_CUTOFF = "anticipate.cutoff"  #: the cutoff date the run worked at (YYYY-MM-DD); a backtest's first
TAG_CUTOFFS = "anticipate.cutoffs"  #: a backtest's every cutoff (:func:`cutoffs_value`)
TAG_COMMIT = "anticipate.git_commit"  #: the git commit of the working directory
TAG_DIGEST = "anticipate.data_digest"  #: content digest of the input data directory
TAG_DATA_DIR = "anticipate.data_dir"  #: the absolute data directory a train run fitted its model on
TAG_MODEL_URI = "anticipate.model_uri"  #: the model a scoring run used
TAG_MODEL_VERSION = "anticipate.model_version"  #: the registry version that model URI resolved to
TAG_MODEL_RUN = "anticipate.model_run_id"  #: the train run that logged that model
TAG_IN_SAMPLE = "anticipate.in_sample"  #: "true": evaluate/forecast/allocate with a model that saw the date
TAG_EXPERIMENT = "anticipate.experiment"  #: an experiment (sweep) parent's name
TAG_SPEC = "anticipate.spec_digest"  #: digest of the experiment file, so re-runs resume
TAG_CHILD = "anticipate.child_key"  #: a sweep child's stable key (its overrides' digest)
TAG_OVERRIDES = "anticipate.overrides"  #: a sweep child's config overrides (JSON)
TAG_PARENT = "mlflow.parentRunId"  #: MLflow's own nesting tag

#: Every value of TAG_COMMAND: the commands that record a run (Tracker.run refuses any other), and
#: the children ``backtest`` and ``experiment run`` nest under their parent run.
TRACKED_COMMANDS = ("train", "evaluate", "forecast", "allocate", "backtest", "backtest-cutoff", "experiment",
                    "experiment-child")

#: The longest TAG_CUTOFFS value written as the list itself; a longer list is written as a digest.
CUTOFFS_LIST_CHARS = 2000



def cutoffs_value(cutoffs: list[str]) -> str:
    """The TAG_CUTOFFS value of a backtest over ``cutoffs`` (YYYY-MM-DD): the sorted dates joined by
    commas (one cutoff: that date, as an evaluate's TAG_CUTOFF), or, past :data:`CUTOFFS_LIST_CHARS`,
    their count, first and last date and a SHA-256 digest of the list. One set of cutoffs gives one
    value whatever the order it was given in, so ``runs compare`` tells apart backtests whose first
    cutoff is the same (audit28 f04: {01-21} against {01-21, 01-28} were ranked as like for like)."""
    import hashlib

    ordered = sorted(set(cutoffs))
    listed = ",".join(ordered)
    if len(listed) <= CUTOFFS_LIST_CHARS:
        return listed
    digest = hashlib.sha256(listed.encode()).hexdigest()[:16]
    return f"{len(ordered)} cutoffs {ordered[0]}..{ordered[-1]} sha256:{digest}"


def model_tags(uri: str, source: dict[str, str | None]) -> dict[str, str]:
    """The tags naming the model a run scored with: its URI as given (TAG_MODEL_URI, e.g.
    ``models:/NAME@production``) and, where known (``source``: ``version`` and ``run_id``, None where
    unknown), the registry version (TAG_MODEL_VERSION) and ``train`` run id (TAG_MODEL_RUN) it resolved to
    when loaded, so a run says which model it scored with after the alias has moved (evaluate, forecast,
    allocate, backtest --model)."""
    found = {TAG_MODEL_VERSION: source.get("version"), TAG_MODEL_RUN: source.get("run_id")}
    return {TAG_MODEL_URI: uri, **{k: v for k, v in found.items() if v}}


def source_keys(source: dict[str, str | None]) -> dict[str, str | None]:
    """A scoring command's ``model_version`` and ``model_run_id`` (its summary.json / --json outputs): what
    its ``model_uri`` resolved to (None where unknown: a local copy names no version)."""
    return {"model_version": source.get("version"), "model_run_id": source.get("run_id")}


_RUN_ID_PREFIX = re.compile(r"[0-9a-f]{1,32}")


# --------------------------------------------------------------------------- filters
def quote(value: str) -> str:
    """A string literal for an MLflow filter: single quotes, or double if the value has one."""
    value = str(value)
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise UsageError(f"{value!r} holds both quote characters and cannot be searched for in MLflow")


def tag_equals(tag: str, value: str) -> str:
    """``tags.`tag` = 'value'``."""
    return f"tags.`{tag}` = {quote(value)}"


def all_of(*clauses: str | None) -> str:
    """Clauses joined with ``and`` (empty ones dropped); a clause with ``or`` is parenthesised."""
    kept = [c.strip() for c in clauses if c and c.strip()]
    return " and ".join(f"({c})" if " or " in c.lower() else c for c in kept)


def command_is(command: str) -> str:
    """Runs of one anticipate command."""
    return tag_equals(TAG_COMMAND, command)


def check_command(command: str, option: str = "--command") -> None:
    """UsageError (exit 2) when ``command`` records no runs (a typo such as ``evalute`` matched none,
    silently), naming the closest and every one of :data:`TRACKED_COMMANDS`."""
    if command in TRACKED_COMMANDS:
        return
    import difflib

    close = difflib.get_close_matches(command, TRACKED_COMMANDS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise UsageError(f"{option} {command} is not a command that records runs; {hint}pass one of: "
                     f"{', '.join(TRACKED_COMMANDS)}")


def parse_commands(text: str, option: str = "--command") -> list[str]:
    """The commands ``text`` names: one, or a comma-separated list (``train,evaluate``), in the order given
    and each once, every one checked by :func:`check_command` (UsageError, exit 2, naming the first that
    records no runs)."""
    names = list(dict.fromkeys(n.strip() for n in str(text).split(",") if n.strip()))
    if not names:
        raise UsageError(f"{option} {text!r} names no command; pass one of: {', '.join(TRACKED_COMMANDS)}, "
                         "or several separated by commas (train,evaluate)")
    for name in names:
        check_command(name, option)
    return names


def started_since(epoch_ms: int) -> str:
    """Runs started at or after ``epoch_ms`` (milliseconds since 1970-01-01 UTC)."""
    return f"attributes.start_time >= {int(epoch_ms)}"


def finished() -> str:
    """Runs that ended FINISHED."""
    return "attributes.status = 'FINISHED'"


def children_of(parent_run_id: str) -> str:
    """Runs nested under ``parent_run_id``."""
    return tag_equals(TAG_PARENT, check_run_id_prefix(parent_run_id))


def experiment_parent(name: str, spec_digest: str) -> str:
    """The parent run of the experiment ``name`` run from the file with ``spec_digest``."""
    return all_of(
        command_is("experiment"), tag_equals(TAG_EXPERIMENT, name), tag_equals(TAG_SPEC, spec_digest)
    )


def run_id_starts_with(prefix: str) -> str:
    """Runs whose id starts with ``prefix`` (hex; checked)."""
    return f"attributes.run_id LIKE '{check_run_id_prefix(prefix)}%'"


def model_versions_of(name: str, run_id: str | None = None) -> str:
    """Registry filter: the versions of model ``name`` (made by ``run_id`` when given)."""
    clause = f"name = {quote(name)}"
    return clause if run_id is None else f"{clause} and run_id = {quote(check_run_id_prefix(run_id))}"


def is_run_id_prefix(text: str) -> bool:
    """Whether ``text`` can be (the start of) an MLflow run id: 1-32 lowercase hex digits."""
    return bool(_RUN_ID_PREFIX.fullmatch(text))


def check_run_id_prefix(text: str) -> str:
    """``text`` if it can be (the start of) a run id; UsageError otherwise."""
    if not is_run_id_prefix(text):
        raise UsageError(
            f"{text!r} is not a run id: run ids are up to 32 hex digits (0-9, a-f); "
            "list runs with 'anticipate runs list'"
        )
    return text
