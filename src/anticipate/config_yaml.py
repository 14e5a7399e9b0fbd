"""Reading config YAML strictly: safe tags only, bounded aliases, no silently dropped or re-read values.

PyYAML's ``SafeLoader`` follows YAML 1.1, which (1) keeps the last of two equal keys in a mapping, so a
second ``time:`` section silently replaces the first, and (2) reads ``014`` as octal 12 and ``1:10`` as
sexagesimal 70. :class:`StrictLoader` refuses both, naming the dotted key path and the line numbers, so
every YAML the project reads (``--config`` files, experiment grids) goes through :func:`read_yaml`.
Layers of config mappings are laid over each other by :func:`deep_merge` and :func:`set_dotted`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from anticipate.errors import ConfigError

MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.1 integers that do not read as the decimal they look like: octal (014 -> 12) and base 60
# (1:10 -> 70); 0b/0x spell their base out and are left alone
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses alias bombs, repeated keys and octal / base-60 numbers.

    The refusals raise :class:`ConfigError` naming the dotted key path (``model.classifier``) and the
    1-based line numbers; :func:`read_yaml` prefixes the file.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        self._paths = _key_paths(node, limit=MAX_YAML_NODES)
        for mapping, path in _mappings(node, self._paths):
            _refuse_repeated_keys(mapping, path)
            _refuse_nested_merge(mapping, path)
        return super().construct_document(node)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = super().construct_yaml_int(node)
        _refuse_unusual_number(node, self._path(node), value)
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        _refuse_unusual_number(node, self._path(node), value)
        return value

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        """A date or time stays its text: the config checks it (YYYY-MM-DD), and 2024-02-30 is no
        longer a ValueError from inside PyYAML."""
        return str(self.construct_scalar(node))

    def _path(self, node: yaml.Node) -> str:
        return getattr(self, "_paths", {}).get(id(node), "")


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)


def _key_paths(root: yaml.Node, *, limit: int) -> dict[int, str]:
    """``id(node) -> dotted key path`` for every node under ``root`` (the first path of a node reached
    through an alias); ConfigError when the tree expands to more than ``limit`` nodes (an alias bomb)."""
    paths: dict[int, str] = {}
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    count = 0
    while stack:
        node, path = stack.pop()
        count += 1
        if count > limit:
            raise ConfigError(
                f"the YAML expands to more than {limit:,} nodes (an alias bomb?); "
                "write the config out without repeated anchors"
            )
        paths.setdefault(id(node), path)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((key, path))
                stack.append((value, f"{path}.{name}" if path else name))
    return paths


def _mappings(root: yaml.Node, paths: dict[int, str]) -> list[tuple[yaml.MappingNode, str]]:
    """Every mapping node under ``root`` once, with its dotted key path, as the parser wrote it: read
    before construction, which flattens merge keys (``<<``) into the mappings in place."""
    found: dict[int, yaml.MappingNode] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in found:
            continue
        if isinstance(node, yaml.MappingNode):
            found[id(node)] = node
            stack.extend(child for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return [(node, paths.get(key, "")) for key, node in found.items()]


def _refuse_repeated_keys(node: yaml.MappingNode, path: str) -> None:
    """ConfigError when a mapping writes one key twice (YAML keeps the last and drops the first), on two
    lines or in one flow mapping (``{a: 1, a: 2}``)."""
    first: dict[tuple[str, str], tuple[int, int]] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
            continue
        mark = (key.start_mark.line + 1, key.start_mark.column + 1)
        seen = first.setdefault((key.tag, key.value), mark)
        if seen != mark:
            dotted = f"{path}.{key.value}" if path else str(key.value)
            where = f"lines {seen[0]} and {mark[0]}" if seen[0] != mark[0] else f"both on line {mark[0]}"
            section = isinstance(value, yaml.MappingNode)
            fix = "with all its keys under it" if section else "with the value you mean"
            raise ConfigError(
                f"key '{dotted}' is written twice ({where}); YAML would keep only the second and drop "
                f"{'everything under the first' if section else 'the first'} without a word: write "
                f"'{key.value}' once, {fix}"
            )


def _merge_sources(node: yaml.MappingNode) -> list[yaml.Node]:
    """The mappings a ``<<`` key of ``node`` merges in (one, or each of a list)."""
    sources: list[yaml.Node] = []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE_TAG:
            sources.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
    return sources


def _own_keys(node: yaml.MappingNode) -> set[str]:
    return {str(k.value) for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.tag != _MERGE_TAG}


def _merged_keys(node: yaml.MappingNode, depth: int = 0) -> set[str]:
    """The keys ``node`` takes from its ``<<`` sources, theirs included (depth-capped)."""
    keys: set[str] = set()
    for source in _merge_sources(node):
        if isinstance(source, yaml.MappingNode) and depth < 50:
            keys |= _own_keys(source) | _merged_keys(source, depth + 1)
    return keys


def _refuse_nested_merge(node: yaml.MappingNode, path: str) -> None:
    """ConfigError when a ``<<`` merges a mapping that overrides a key it merged itself: PyYAML 6.0 keeps
    the inner merged value over that override (``mid: {<<: *b, x: 2}`` merged into ``top`` gives
    ``top.x`` from ``b``), a silently wrong value. A chain without such an override reads right."""
    for source in _merge_sources(node):
        if not isinstance(source, yaml.MappingNode):
            continue
        overridden = sorted(_own_keys(source) & _merged_keys(source))
        if overridden:
            line = source.start_mark.line + 1
            raise ConfigError(
                f"key '{path or '(top)'}' merges (<<) the mapping at line {line}, which merges another "
                f"mapping itself and overrides its {', '.join(repr(k) for k in overridden)}; PyYAML keeps "
                "the inner merged value over that override, so write the keys of that mapping out instead "
                "of its '<<'"
            )

def _refuse_unusual_number(node: yaml.ScalarNode, path: str, value: float) -> None:
    """ConfigError for a plain number YAML 1.1 reads other than as written: 014 (octal 12), 1:10 (70)."""
    text = str(node.value)
    if node.style is not None or not (_LEADING_ZERO.fullmatch(text) or _SEXAGESIMAL.fullmatch(text)):
        return
    if ":" in text:
        kind, fix = "base 60", "write the number you mean without ':'"
    else:
        kind = "octal"
        fix = f"write {text[0] if text[0] in '+-' else ''}{text.lstrip('+-').lstrip('0_') or '0'}"
    raise ConfigError(
        f"key '{path or '(top)'}' at line {node.start_mark.line + 1} is {text}, which YAML reads as "
        f"{value:g} ({kind}), not as the decimal it looks like; {fix}, or quote it ('{text}') for text"
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping strictly: size-capped, no object tags, bounded aliases, no repeated keys, no
    octal or base-60 numbers.

    Raises
    ------
    ConfigError
        The file is missing, too large, not YAML, uses a Python tag, repeats a key, writes an octal or
        base-60 number, or is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist or is not a file; pass an existing YAML file")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_YAML_BYTES:,} bytes; is it the right file?"
        )
    try:
        text = path.read_text(encoding="utf-8")
        loaded = yaml.load(text, Loader=StrictLoader)
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 "
                          "YAML") from None
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_message(path, exc)) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}")
    return loaded


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override`` recursively; neither input is changed."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def dotted_leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf under ``prefix``: ``{"a": {"b": 1}}`` -> ``[("a.b", 1)]``; a
    value that is no (non-empty) mapping is the leaf ``prefix`` itself."""
    if not isinstance(value, dict) or not value:
        return [(prefix, value)]
    return [leaf for k, v in value.items()
            for leaf in dotted_leaves(v, f"{prefix}.{k}" if prefix else str(k))]


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``tree`` with ``a.b.c`` set to ``value``."""
    parts = dotted.split(".")
    override: dict[str, Any] = {}
    node = override
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return deep_merge(tree, override)


def yaml_message(path: Path, exc: yaml.YAMLError) -> str:
    """One paragraph for a YAML error: the file, line and column, what is wrong and the fix."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = str(getattr(exc, "problem", None) or exc).replace("\n", " ").strip()
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        context = f"{context} that starts at line {start.line + 1}"
    what = f"{context}: {problem}" if context else problem
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        fix = ("config files hold plain values only (numbers, text, lists, mappings); remove the tag "
               "(the '!!...' or '!...' word) at that line")
    else:
        fix = ("fix the YAML syntax at that line: indent with spaces (not tabs), close every [ and {, "
               "put a space after each ':', and quote text that contains ': ' or starts with # [ { * & !")
    return f"config file {path}{where} is not valid YAML ({what}); {fix}"
