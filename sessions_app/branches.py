"""A chat is a tree of messages, each following its parent: a question follows the answer
before it, an answer its question. An answer asked for again, or a question edited and
sent again, is a sibling of the one before it, so every earlier version stays, each
with the branch that continued from it.

A page shows one branch: the path from the first question down to a leaf. At each fork
it says which version this is ("2 / 3") and which are its neighbours; choosing another
version shows the branch below it, following the newest version at each fork further
down (as Open WebUI and LibreChat do)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Node(Protocol):
    pk: int
    parent_id: int | None


@dataclass(frozen=True)
class Versions:
    """Where a message stands among its siblings; only forks (count > 1) show it."""

    position: int
    count: int
    previous: Node | None
    next: Node | None


N = TypeVar("N", bound=Node)


class Tree(Generic[N]):
    """One chat's messages, read once, in the order they were written."""

    def __init__(self, messages: Iterable[N]) -> None:
        self._by_pk: dict[int, N] = {}
        self._children: defaultdict[int | None, list[N]] = defaultdict(list)
        for message in messages:
            self._by_pk[message.pk] = message
            self._children[message.parent_id].append(message)

    def leaf_below(self, message: N) -> N:
        """The end of the branch through `message`: its newest version at each fork."""
        while children := self._children.get(message.pk):
            message = children[-1]
        return message

    def branch(self, leaf: N | None) -> list[N]:
        """The messages from the first question down to `leaf`; with no leaf given, the
        branch of the newest versions."""
        if leaf is None:
            roots = self._children.get(None)
            if not roots:
                return []
            leaf = self.leaf_below(roots[-1])
        path = [leaf]
        while (parent := self._by_pk.get(path[-1].parent_id)) is not None:
            path.append(parent)
        return path[::-1]

    def versions(self, message: N) -> Versions:
        siblings = self._children[message.parent_id]
        index = next(i for i, sibling in enumerate(siblings) if sibling.pk == message.pk)
        return Versions(
            position=index + 1,
            count=len(siblings),
            previous=siblings[index - 1] if index else None,
            next=siblings[index + 1] if index + 1 < len(siblings) else None,
        )

    def __iter__(self) -> Iterator[N]:
        return iter(self._by_pk.values())

    def find(self, pk: int) -> N | None:
        return self._by_pk.get(pk)

    def has_children(self, message: N) -> bool:
        return bool(self._children.get(message.pk))
