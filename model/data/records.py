"""Canonical, typed records that every stage after loading works with.

Contract: items and users are dense integer indices (0..n-1) assigned by the loader; the raw ids of the source are
kept beside them so results can be reported in the source's terms. A user's sequence is chronological (oldest
first) and holds internal item indices only. These records know nothing about file formats, models or Redis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Item:
    """One catalogue entry."""

    index: int  # dense internal id, 0..n_items-1
    raw_id: str  # the id the source uses
    title: str  # may be "" for datasets without text (Amazon Beauty)
    fields: Mapping[str, str] = field(default_factory=dict)  # optional text: description, brand, categories, ...

    def text(self, max_chars: int = 512) -> str:
        """Title plus the optional fields, one readable string, cut to `max_chars`."""
        parts = [self.title] if self.title else []
        parts += [f"{k}: {v}" for k, v in self.fields.items() if v]
        return " | ".join(parts)[:max_chars]


@dataclass(frozen=True, slots=True)
class InteractionDataset:
    """A catalogue plus every user's chronological item sequence."""

    name: str
    items: Sequence[Item]  # items[i].index == i
    user_ids: Sequence[str]  # raw user ids; position = internal user index
    sequences: Sequence[Sequence[int]]  # sequences[u] = chronological item indices of user u

    def __post_init__(self) -> None:
        if len(self.user_ids) != len(self.sequences):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.user_ids)} user ids but {len(self.sequences)} sequences"
            )
        for i, item in enumerate(self.items):
            if item.index != i:
                raise ValueError(f"dataset {self.name!r}: item at position {i} has index {item.index}")

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_interactions(self) -> int:
        return sum(len(s) for s in self.sequences)

    @property
    def has_text(self) -> bool:
        """True when most items carry a title: the text-based stages (alignment, textual tasks) need it."""
        with_title = sum(1 for it in self.items if it.title)
        return with_title >= 0.5 * max(1, len(self.items))
