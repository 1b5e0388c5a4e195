"""A new item's latent vector, through the tokenizer that made the artifact's trained codes, without retraining it.

Contract: `ItemEncoder` maps new items into the quantiser's latent space, where the residual codebooks live, so that
`model.catalogue.assign` quantises them exactly as the trained items were:
- `from_embedding(rows)`: a collaborative embedding (n, input_dim), in the space the tokenizer was trained on
  (SASRec's item embeddings), through the tokenizer's own encoder: the trained items' path.
- `from_text(texts)`: the item text embedded by the text encoder the tokenizer was aligned to (`TextSpace`: the
  tokenizer stage's LM, IDF over the trained catalogue's texts, `model.lm.text_embed`), then into latent space by
  the text map:
  - `projection`: retrieval through the alignment projection (the linear map from the latent to the LM's space that
    training tied to item text): the quantised latent of the existing item (`existing_codes`: every item that has a
    code) whose projection has the highest cosine with the text embedding, the quantity the alignment loss trains
    and its retrieval metric reads. The new item is then placed beside that item. Only a tokenizer trained with the
    alignment loss has a projection.
  - `fitted`: a ridge regression from the trained items' text embeddings to their quantised latents (with an
    intercept), fitted here: the text route for a tokenizer trained without the alignment loss.
  `auto` is `projection` when the tokenizer has one, else `fitted`.
`TextUnavailableError` says why a text route cannot run (no projection, no text in the trained catalogue).
Deterministic: no randomness anywhere. It knows nothing about artifacts, files or code collisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from model.errors import UserError
from model.lm.text_embed import text_embeddings
from model.tokenizer.trainer import TrainedTokenizer

TextMap = Literal["auto", "projection", "fitted"]
TEXT_MAPS: tuple[str, ...] = ("auto", "projection", "fitted")
RIDGE = 1e-2  # the fitted map's ridge, relative to the mean eigenvalue of the text embeddings' covariance
RETRIEVAL_CHUNK = 65_536  # existing items projected at once by the projection route


class TextUnavailableError(UserError):
    """The text route cannot run for this tokenizer; the message says why and what to give instead."""


class TextSpace:
    """The text encoder the tokenizer was aligned to: its LM's input embeddings, IDF over the trained catalogue."""

    def __init__(self, model: Any, tokenizer: Any, trained_texts: Sequence[str]) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.reference = list(trained_texts)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return text_embeddings(texts, self.model, self.tokenizer, idf_reference=self.reference).astype(np.float32)


class ItemEncoder:
    def __init__(
        self,
        trained: TrainedTokenizer,
        trained_codes: npt.NDArray[np.integer],
        text: TextSpace | None = None,
        text_map: TextMap = "auto",
        existing_codes: npt.NDArray[np.integer] | None = None,
    ) -> None:
        if text_map not in TEXT_MAPS:
            raise UserError(f"text map must be one of {', '.join(TEXT_MAPS)}; got {text_map!r}")
        self.trained = trained
        self.text = text
        self.source = ""  # which tokenizer this is (its content hash), for the record
        model = trained.model
        with torch.no_grad():
            self._quantised = model.quantizer.lookup(torch.as_tensor(np.array(trained_codes, dtype=np.int64)))
        self._existing = np.array(trained_codes if existing_codes is None else existing_codes, dtype=np.int64)
        self.codebooks = model.quantizer.codebooks.detach().double().numpy()  # (L, C, latent)
        self.text_map: Literal["projection", "fitted"] = (
            ("projection" if model.projection is not None else "fitted") if text_map == "auto" else text_map
        )
        self._map: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None  # the fitted map

    @property
    def input_dim(self) -> int:
        return self.trained.input_dim

    @property
    def text_method(self) -> str:
        return f"text:{self.text_map}"

    def from_embedding(self, rows: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = torch.as_tensor(np.asarray(rows, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise UserError(f"embeddings have shape {tuple(x.shape)}; the tokenizer takes (n, {self.input_dim})")
        with torch.no_grad():
            return self.trained.model.encode(x).double().numpy()

    def check_text(self) -> None:
        """TextUnavailableError unless `from_text` can run."""
        if self.text is None:
            raise TextUnavailableError(
                "the trained catalogue has no item text, so the tokenizer's codes are tied to no text space: "
                "give each new item its collaborative embedding"
            )
        if self.text_map == "projection" and self.trained.model.projection is None:
            raise TextUnavailableError(
                "the tokenizer was trained without the alignment loss and has no projection from text: "
                "use the fitted text map, or give the item's collaborative embedding"
            )

    def from_text(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        self.check_text()
        assert self.text is not None
        emb = self.text.embed(texts).astype(np.float64)
        if self.text_map == "projection":
            return self._retrieve(emb)
        if self._map is None:
            self._map = self._fit()
        weight, bias = self._map
        return emb @ weight + bias

    def _retrieve(self, emb: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The quantised latent of the existing item whose projection is nearest (cosine) to each text embedding."""
        model = self.trained.model
        assert model.projection is not None
        text = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=1)
        best_score = torch.full((text.shape[0],), -torch.inf)
        best = torch.zeros(text.shape[0], dtype=torch.long)
        with torch.no_grad():
            for start in range(0, self._existing.shape[0], RETRIEVAL_CHUNK):
                codes = torch.as_tensor(self._existing[start : start + RETRIEVAL_CHUNK])
                projected = torch.nn.functional.normalize(model.projection(model.quantizer.lookup(codes)), dim=1)
                score, at = (text @ projected.T).max(dim=1)
                better = score > best_score
                best_score = torch.where(better, score, best_score)
                best = torch.where(better, at + start, best)
            chosen = torch.as_tensor(self._existing[best.numpy()])
            return model.quantizer.lookup(chosen).double().numpy()

    def _fit(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        assert self.text is not None
        x = self.text.embed(self.text.reference).astype(np.float64)
        y = self._quantised.double().numpy()
        mx, my = x.mean(0), y.mean(0)
        xc, yc = x - mx, y - my
        gram = xc.T @ xc
        lam = RIDGE * max(float(np.trace(gram)) / gram.shape[0], 1e-12)
        weight = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), xc.T @ yc)
        return weight, my - mx @ weight
