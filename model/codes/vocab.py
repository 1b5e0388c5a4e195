"""CodeVocab: where each code token lives in a tokenizer's vocabulary.

Contract: `token_ids[l][c]` is the token id of `<{letter(l)}_{c}>`; all ids are distinct. It converts code tuples to
token-id paths and back. It is made by `model.lm.extend.add_code_tokens` (or read back from a tokenizer that already
holds the tokens) and knows nothing about models, items or tries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.codes.item_codes import ItemCodes, code_token
from model.errors import UserError


@dataclass(frozen=True, eq=False)
class CodeVocab:
    """Token ids of the code tokens, one int64 array per level (read-only)."""

    token_ids: tuple[npt.NDArray[np.int64], ...]

    def __init__(self, token_ids: Sequence[Sequence[int] | npt.NDArray[np.integer]]) -> None:
        arrays = []
        for ids in token_ids:
            a = np.array(ids, dtype=np.int64)
            if a.ndim != 1 or a.size == 0:
                raise UserError(f"code vocab: each level needs a non-empty 1-d list of token ids; got shape {a.shape}")
            a.setflags(write=False)
            arrays.append(a)
        flat = np.concatenate(arrays)
        if np.unique(flat).size != flat.size:
            raise UserError("code vocab: two code tokens share a token id")
        if (flat < 0).any():
            raise UserError("code vocab: negative token id")
        object.__setattr__(self, "token_ids", tuple(arrays))

    @property
    def level_sizes(self) -> tuple[int, ...]:
        return tuple(int(a.size) for a in self.token_ids)

    @property
    def n_levels(self) -> int:
        return len(self.token_ids)

    def ids_of(self, code: Sequence[int]) -> list[int]:
        """Token ids of one code tuple, in level order."""
        if len(code) != self.n_levels:
            raise UserError(f"code {tuple(code)} has {len(code)} levels; the vocab has {self.n_levels}")
        return [int(self.token_ids[level][c]) for level, c in enumerate(code)]

    def item_paths(self, codes: ItemCodes) -> npt.NDArray[np.int64]:
        """(n_items, L) token-id paths of every item."""
        self.check_compatible(codes)
        return np.stack([self.token_ids[level][codes.codes[:, level]] for level in range(self.n_levels)], axis=1)

    def check_compatible(self, codes: ItemCodes) -> None:
        """UserError unless the vocab has a token for every code `codes` can hold (same levels, sizes >=)."""
        if codes.n_levels != self.n_levels or any(
            c > v for c, v in zip(codes.level_sizes, self.level_sizes, strict=True)
        ):
            raise UserError(
                f"item codes with level sizes {codes.level_sizes} do not fit the code vocab {self.level_sizes}"
            )

    @classmethod
    def from_tokenizer(cls, tokenizer: object, level_sizes: Sequence[int]) -> CodeVocab:
        """Look the code tokens up in a tokenizer that already holds them; UserError naming the first missing one."""
        convert = tokenizer.convert_tokens_to_ids  # type: ignore[attr-defined]
        unk = getattr(tokenizer, "unk_token_id", None)
        levels = []
        for level, size in enumerate(level_sizes):
            tokens = [code_token(level, c) for c in range(size)]
            ids = convert(tokens)
            for tok, i in zip(tokens, ids, strict=True):
                if i is None or (unk is not None and i == unk):
                    raise UserError(f"the tokenizer has no token {tok!r}: add the code tokens first (add_code_tokens)")
            levels.append(ids)
        return cls(levels)
