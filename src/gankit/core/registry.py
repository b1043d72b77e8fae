"""Explicit name -> object registries, so CLI choices, validation and tests all come from one place."""
from __future__ import annotations

import difflib
from typing import Generic, Iterator, TypeVar

from gankit.core.errors import GankitError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of components. Unknown names fail with a "did you mean" hint."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, item: T, *, aliases: tuple[str, ...] = ()) -> T:
        if name in self._items or name in self._aliases:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._items[name] = item
        for alias in aliases:
            self._aliases[alias] = name
        return item

    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases; raises GankitError if unknown."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted(self._items)
        close = difflib.get_close_matches(name, known + sorted(self._aliases), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GankitError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(known)}.")

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
