"""Anchors and aliases are hostile input: bounded here for every YAML document we read.

PyYAML builds an alias as a shared reference, so a list that contains itself is a cyclic
object (RecursionError in whoever walks it next: the manifests reader, ``json.dumps`` of an
exec plugin's extension) and a "billion laughs" document is small in memory but explodes when
walked. go-yaml, which kubectl reads with, refuses both ("anchor 'x' value contains itself",
"document contains excessive aliasing"). ``check_aliases`` walks each distinct node once
(linear in the document as written) and refuses the same two things, naming the file.
"""

from __future__ import annotations

from typing import Any

from ._errors import ConfigError

__all__ = ["check_aliases"]

# Nodes an alias may add beyond the document as written: go-yaml allows generous reuse, and so
# do we, but not exponential growth.
_ALIAS_ALLOWANCE = 10_000
_ALIAS_RATIO = 10


def check_aliases(doc: Any, *, source: str) -> Any:
    """``doc`` if no node contains itself and aliases do not multiply it; else ``ConfigError``."""
    size: dict[int, int] = {}  # expanded size of each finished container
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = list(node.values()) + list(node.keys()) if isinstance(node, dict) else node
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size.get(id(c), 1) for c in children)
            continue
        if key in on_path:
            raise ConfigError("a YAML anchor contains itself (an alias refers to a node that holds it)", source=source,
                              fix="remove the alias, or replace it with a copy of what it names")
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)))
    distinct = len(size)
    expanded = size.get(id(doc), 1)
    if expanded - distinct > max(_ALIAS_ALLOWANCE, _ALIAS_RATIO * distinct):
        raise ConfigError(f"YAML aliases expand {distinct} nodes to {expanded}: excessive aliasing", source=source,
                          fix="write the repeated parts out, or remove the nested aliases")
    return doc
