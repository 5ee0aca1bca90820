"""The YAML loader for catalogue files, which come from people and may be hostile.

PyYAML's SafeLoader builds only plain values, but two shapes still hurt: nesting deep
enough to exhaust Python's recursion (a few hundred levels: `[[[[…]]]]`, in YAML or
JSON), and aliases, which let a few lines stand for a document of millions of nodes
(the "billion laughs"). A catalogue is at most seven levels deep and never needs an
alias, so nesting past MAX_DEPTH and every alias are refused while the file is read.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_DEPTH = 20


class Loader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None, None, "aliases (*name) are not allowed in a catalogue", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"is nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # PyYAML's own constructors fail on some scalars with plain Python errors, not
        # YAMLError ("!!bool x", "!!timestamp x", "!!int 0x", an int of 5,000 digits).
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError):
            kind = node.tag.rsplit(":", 1)[-1]
            raise ConstructorError(
                None, None, f"this {kind} value cannot be read", node.start_mark
            ) from None


def problem(error: yaml.YAMLError) -> str:
    """One line for the person who wrote the file: where, and what."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    # A ReaderError (a control character, a NUL) has no `problem`, only its own text.
    what = " ".join((getattr(error, "problem", None) or str(error)).split())
    return f"(document): {where}not valid YAML ({what})"
