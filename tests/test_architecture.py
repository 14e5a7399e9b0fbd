"""The shape of the code: no import cycles, pipelines that stand alone, small modules and functions,
a config whose every key is read, and a README layout that names every package.

These tests read the source with :mod:`ast` (nothing is imported), so they are fast and
their failures name the file, the line and the rule.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "anticipate"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
NUMBA_DECORATORS = {"njit", "jit", "vectorize", "guvectorize", "stencil", "cfunc", "generated_jit"}


# --------------------------------------------------------------------------- the module graph
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its ``__init__.py``)."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_package(name: str) -> bool:
    return _modules()[name].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names, resolving ``from . import`` and ``from ..x import``."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported anticipate module, line) for every import in ``module``: module level, in functions,
    under ``if TYPE_CHECKING:`` alike (a typing-only import is still a dependency of the design).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``
    (its ``__init__``). The implicit import of parent packages is not an edge: it would make every
    ``pkg/__init__.py`` that re-exports a submodule look cyclic.
    """
    known = _modules()
    for node in ast.walk(_tree(known[module])):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and target.startswith("anticipate"):
                target = target.rpartition(".")[0]  # `import anticipate.x.y as z` of a symbol path
            if target in known and target != module:
                yield target, node.lineno


@cache
def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line importing it}."""
    graph: dict[str, dict[str, int]] = {}
    for module in _modules():
        edges: dict[str, int] = {}
        for target, line in _imports(module):
            edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(child):], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_the_graph_walker_sees_relative_and_function_level_imports() -> None:
    """Guards the cycle test against a walker that sees nothing: known edges of today's tree."""
    graph = _graph()
    assert "anticipate.cli" in graph and "anticipate.pipelines" in graph
    assert sum(len(edges) for edges in graph.values()) > 100
    # the CLI imports its pipelines inside the command functions
    assert any(t.startswith("anticipate.pipelines.") for m in graph if m.startswith("anticipate.cli")
               for t in graph[m])
    assert _find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1}}) is None


def test_no_import_cycle_in_src() -> None:
    graph = _graph()
    cycle = _find_cycle(graph)
    if cycle:
        steps = [f"{a} imports {b} ({_modules()[a].relative_to(ROOT)}:{graph[a][b]})"
                 for a, b in itertools.pairwise(cycle)]
        raise AssertionError("import cycle: " + " -> ".join(cycle) + "\n  " + "\n  ".join(steps))


def test_pipelines_never_import_each_other() -> None:
    """A pipeline may use ``anticipate.pipelines`` (Settings, Result) and ``anticipate.pipelines._common``
    from its own package, nothing else of it: shared logic belongs to a library package."""
    allowed = {"anticipate.pipelines", "anticipate.pipelines._common"}
    bad = []
    for module, edges in _graph().items():
        if module != "anticipate.pipelines" and not module.startswith("anticipate.pipelines."):
            continue
        for target, line in edges.items():
            if target.startswith("anticipate.pipelines.") and target not in allowed:
                bad.append(f"{_modules()[module].relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "pipelines import each other:\n  " + "\n  ".join(bad)


# --------------------------------------------------------------------------- sizes
def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def _decorator_name(node: ast.expr) -> str:
    """``njit`` for ``@njit``, ``@numba.njit``, ``@njit(cache=True)`` and ``@numba.njit(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _compiled_by_call(tree: ast.Module) -> set[str]:
    """Names of functions compiled without a decorator: ``njit(...)(body)`` or ``njit(body)``."""
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _decorator_name(node.func) in NUMBA_DECORATORS:  # njit(...)(f) or njit(f)
            names |= {a.id for a in node.args if isinstance(a, ast.Name)}
    return names


def _function_lengths(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, lines from ``def`` to the last line of the body) of every function
    that Numba does not compile, nested functions and methods included."""
    compiled = _compiled_by_call(tree)

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                numba = child.name in compiled or any(
                    _decorator_name(d) in NUMBA_DECORATORS for d in child.decorator_list)
                if not numba:
                    yield name, child.lineno, (child.end_lineno or child.lineno) - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def test_the_function_measure_exempts_numba_kernels_only() -> None:
    source = (
        "import numba\nfrom numba import njit\n"
        "@njit(cache=True)\ndef a():\n    pass\n"
        "@numba.vectorize\ndef b():\n    pass\n"
        "def c_body():\n    pass\n_c = njit(cache=True)(c_body)\n"
        "class K:\n    def d(self):\n        def e():\n            pass\n"
    )
    found = {name: n for name, _, n in _function_lengths(ast.parse(source))}
    assert found == {"K.d": 3, "K.d.e": 2}


def test_no_function_over_60_lines_outside_numba_kernels() -> None:
    long = [f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)" for p in _modules().values()
            for name, line, n in _function_lengths(_tree(p)) if n > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n  " + "\n  ".join(long)


# --------------------------------------------------------------------------- the config
CONFIG_OWNERS = {"cfg", "config", "settings", "opts", "options", "params"}


def _flat_keys(tree: dict, prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            yield from _flat_keys(value, dotted)
        else:
            yield dotted


@cache
def _attribute_reads() -> dict[str, set[tuple[str, str]]]:
    """attribute name -> {(owner expression in lower case, file)} over every ``x.attr`` that is read
    in ``src/anticipate`` outside ``config.py`` (the module that declares the keys)."""
    reads: dict[str, set[tuple[str, str]]] = {}
    for path in _modules().values():
        if path == PACKAGE / "config.py":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                owner = ast.unparse(node.value).lower()
                reads.setdefault(node.attr, set()).add((owner, str(path.relative_to(ROOT))))
    return reads


def _is_read(dotted: str) -> bool:
    parent, leaf = dotted.split(".")[-2:]
    for owner, _ in _attribute_reads().get(leaf, ()):
        words = set(re.findall(r"[a-z0-9]+", owner.replace("_", " ")))
        if parent in words or words & CONFIG_OWNERS:
            return True
    return False


def test_every_key_of_the_default_config_is_read_in_src() -> None:
    """Each key of ``configs/default.yaml`` (flattened to ``section.key`` / ``model.classifier.key``)
    is read by the code.

    The rule: somewhere in ``src/anticipate`` other than ``config.py`` an attribute named like the
    key's leaf is *read* (an ``ast.Attribute`` load, so docstrings, comments, strings and YAML do not
    count) on an owner expression that names the key's parent section (``cfg.allocate.gap_tolerance``,
    ``settings.cfg.forecast.dispersion``, ``model.threads``) or a config object by its conventional
    name (``cfg``, ``config``, ``settings``, ``opts``, ``options``, ``params``, also as a word of a
    longer name such as ``cls_params``). So ``ds.regions`` (a table) does not make ``sample.regions``
    read, and a key that is only declared, documented or logged is reported.
    """
    keys = list(_flat_keys(yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())))
    assert len(keys) > 50 and "allocate.gap_tolerance" in keys
    unread = [k for k in keys if not _is_read(k)]
    assert not unread, f"keys of configs/default.yaml that nothing in src/ reads: {unread}"


def test_the_config_rule_is_not_trivially_true() -> None:
    assert not _is_read("section_nobody_has.key_nobody_reads")
    reads = _attribute_reads()
    assert any(owner.startswith("ds") for owner, _ in reads.get("regions", ()))  # tables named like keys
    words_of = [set(re.findall(r"[a-z0-9]+", o.replace("_", " "))) for o, _ in reads.get("regions", ())
                if o.startswith("ds")]
    assert all(not (w & CONFIG_OWNERS) and "sample" not in w for w in words_of)


# --------------------------------------------------------------------------- the README layout
def _layout_block(readme: str) -> str:
    """The fenced code block that follows the ``Layout`` heading (any level) before any other heading."""
    heading = re.search(r"^#+\s+Layout\b.*$", readme, flags=re.MULTILINE | re.IGNORECASE)
    assert heading, "README.md has no 'Layout' heading"
    after = readme[heading.end():]
    block = re.search(r"^```[^\n]*\n(.*?)^```", after, flags=re.MULTILINE | re.DOTALL)
    between = after[: block.start()] if block else after
    assert block and not re.search(r"^#+\s", between, flags=re.MULTILINE), (
        "the README's Layout section has no fenced code block before the next heading")
    return block.group(1)


def _layout_names(block: str) -> set[str]:
    """Names listed as ``anticipate/<name>/`` or ``anticipate/<name>.py`` in the path column (the text
    before the first run of two spaces); ``a.py, b.py`` lists several; a ``src/`` prefix is allowed."""
    names = set()
    for line in block.splitlines():
        column = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        if not re.match(r"(src/)?anticipate/", column):
            continue
        for item in re.split(r"[,\s]+", column):
            item = re.sub(r"^(src/)?anticipate/", "", item.strip("`"))
            found = re.fullmatch(r"(\w+)(/|\.py)", item)
            if found:
                names.add(found.group(1) + found.group(2))
    return names


def test_the_layout_parser_reads_the_agreed_form() -> None:
    block = ("src/anticipate/\n  anticipate/cli/        click commands\n"
             "anticipate/config.py   the config tree\n"
             "anticipate/errors.py, dates.py   errors and dates\n")
    assert _layout_names(block) == {"cli/", "config.py", "errors.py", "dates.py"}


def test_readme_layout_lists_exactly_the_packages_and_top_level_modules() -> None:
    """Every sub-package and top-level module of ``src/anticipate`` has its line, and every line names one
    that exists; ``__init__.py`` and ``__main__.py`` may be listed but need not be."""
    listed = _layout_names(_layout_block((ROOT / "README.md").read_text(encoding="utf-8")))
    listed = {n for n in listed if not n.startswith("__")}
    actual = {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    actual |= {p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__")}
    assert listed == actual, (
        f"README layout misses {sorted(actual - listed)} and lists what does not exist: "
        f"{sorted(listed - actual)}"
    )


# --------------------------------------------------------------------------- imports that resolve
@cache  # once per module, not once per import of it: the import check took 32 s of the suite, now ~1 s
def _defined_names(path: Path) -> frozenset[str]:
    """The names a module defines or imports at its top level (``if``/``try`` blocks included)."""
    names: set[str] = set()
    body = list(_tree(path).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try)):
            body.extend([*node.body, *node.orelse, *getattr(node, "finalbody", [])])
            body.extend(s for h in getattr(node, "handlers", []) for s in h.body)
    return frozenset(names)


def _unresolved_imports(path: Path) -> Iterator[str]:
    """``file:line name`` for each ``from anticipate... import name`` in ``path`` that names nothing."""
    known = _modules()
    for node in ast.walk(_tree(path)):
        if not (isinstance(node, ast.ImportFrom) and not node.level and node.module
                and node.module.split(".")[0] == "anticipate"):
            continue
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:{node.lineno}"
        if node.module not in known:
            yield f"{where} module {node.module}"
            continue
        defined = _defined_names(known[node.module])
        for alias in node.names:
            if alias.name not in defined and f"{node.module}.{alias.name}" not in known:
                yield f"{where} {node.module}.{alias.name}"


def test_every_import_of_the_package_names_something_that_exists() -> None:
    """Benchmarks and experiments import inside functions, which no test runs: a name moved out of a
    module (``staging_dir`` left ``storage.files``) broke ``make bench`` with the suite green."""
    files = [p for d in ("src", "tests", "experiments") for p in sorted((ROOT / d).rglob("*.py"))
             if "_work" not in p.relative_to(ROOT).parts]  # the benches' scratch: worlds and the peer's venv
    assert len(files) > 150
    bad = [line for p in files for line in _unresolved_imports(p)]
    assert not bad, "imports of names that do not exist:\n" + "\n".join(bad)


def test_the_import_check_sees_a_missing_name(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from anticipate.storage.files import no_such_name, write_table\n"
                     "    from anticipate.storage import publish\n    from anticipate.nothing import x\n")
    assert list(_unresolved_imports(probe)) == [
        "probe.py:2 anticipate.storage.files.no_such_name", "probe.py:4 module anticipate.nothing"]
