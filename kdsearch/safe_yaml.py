"""The one YAML loader for every YAML file kdsearch reads: space files, cluster files, and a
results folder's space.yaml.

It is PyYAML's SafeLoader (no Python objects) made strict and bounded:

* a key written twice in one mapping is an error (plain YAML silently keeps the last one, so a
  second `train:` block or `max_workers:` would quietly replace the first);
* anchors and aliases are bounded: the document as it would be expanded may hold at most
  `MAX_NODES` values and nest at most `MAX_DEPTH` deep, and an alias may not refer to its own
  anchor. A kilobyte of nested aliases (a "billion laughs") otherwise builds a structure that
  every deepcopy, repr or schema check walks in full, for minutes or until memory runs out;
* numbers read as a user means them: `1e-3` is the float 0.001 (YAML 1.1 wants `1.0e-3` and
  reads `1e-3` as a string), and `2024-01-01` stays the string it looks like (YAML 1.1 would make
  it a date, which no kdsearch setting takes).

Errors are `yaml.MarkedYAMLError`s carrying the line, so callers keep their own wording.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

from kdsearch.errors import short

# A space file expands to a few hundred values, a large cluster file to a few thousand.
MAX_NODES = 100_000
MAX_DEPTH = 64

# YAML 1.2's floats that YAML 1.1 misses: an exponent without a dot (1e-3, 5E+2, 2.e3 is 1.1's).
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class BoundedError(yaml.MarkedYAMLError):
    """A document too large, too deep or self-referential once its aliases are expanded."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with unique keys, bounded alias expansion and YAML 1.2 numbers (module doc)."""

    def compose_node(self, parent, index):
        # The composer recurses once per nesting level: refuse before Python's recursion limit.
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise BoundedError(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node):
        # The bound covers all documents of a stream together: many small documents add up.
        self._expanded = getattr(self, "_expanded", 0) + _check_expansion(node)
        if self._expanded > MAX_NODES:
            raise BoundedError(None, None, f"the documents expand to more than {MAX_NODES:,} values in all",
                               node.start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` overrides on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable key: SafeLoader reports it below
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short(key)} (first on line "
                                                        f"{first})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 numbers: add the exponent form, drop timestamps (a copy: SafeLoader stays as it is).
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))


def _check_expansion(root: yaml.Node) -> int:
    """Refuse a node graph whose expansion (each alias copied out) exceeds MAX_NODES values or
    MAX_DEPTH levels, or that contains itself. Sizes are memoised per node, so the walk costs
    one visit per distinct node however many times aliases repeat it. Returns the expanded size."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()

    def children(node: yaml.Node) -> Iterator[yaml.Node]:
        if isinstance(node, yaml.SequenceNode):
            yield from node.value
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                yield key
                yield value

    # An explicit stack (post-order), not recursion: the graph may be deep.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            kids = list(children(node))
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise BoundedError(None, None, f"expands to more than {MAX_NODES:,} values (anchors and aliases "
                                   "repeat it)", node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise BoundedError(None, None, f"nested more than {MAX_DEPTH} levels deep once aliases are "
                                   "expanded", node.start_mark)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise BoundedError(None, None, "an alias refers to the structure that contains it (a recursive "
                               "anchor)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in children(node) if id(kid) not in size)
    return size[id(root)]


def load(text: str) -> Any:
    """The single document in `text` (None for an empty one), strictly and boundedly."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader)


def load_all(text: str) -> list[Any]:
    """Every document in `text`; the bound on expansion applies to each document."""
    return list(yaml.load_all(text, Loader=StrictLoader))  # noqa: S506 (a SafeLoader)
