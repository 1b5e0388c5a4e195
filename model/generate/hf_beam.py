"""transformers backend: batched trie beam search that prefills each prompt once.

Contract: `HFBeamGenerator(model, trie, ...)` implements `Generator.top_k` for a `*ForCausalLM`. Users are processed in
batches (sorted by prompt length). Each prompt is prefilled ONCE; its KV cache is kept once per user; the W beams
carry only their own generated tokens. Two attention paths, chosen automatically (`attention="auto"`):
- `shared_prefix` (Llama/Qwen2 layouts: q/k/v/o projections, RoPE, RMSNorm, full attention, no q/k norms): the decode
  steps run the decoder layers here, computing each beam's attention as one matmul of all the user's beam queries
  against the shared prompt keys plus a small per-beam cache of the generated tokens (softmax over both parts).
  The prompt KV is never copied per beam.
- `generic` (any causal LM with a standard `DynamicCache`): the model's own forward; the prompt cache is repeated
  per beam after prefill (`batch_repeat_interleave`) and reordered with the beams.
Both give the same scores up to float rounding. Both run every level through one step function: `select` (beam
search, with the batch's banned items masked at the last level) for `top_k`, `force` (the given candidates' code
paths, one "beam" per candidate) for `score`, so a scored candidate gets exactly the score the search would give it.
`dtype` ("float32"/"bfloat16") runs a copy of the model in that dtype when it differs; scores are always accumulated
in float32. It knows nothing about users, histories or Redis.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel

from model.codes.trie import CodeTrie
from model.errors import UserError
from model.generate.base import Generator, ScoredItem, plan_search
from model.generate.beam import Beams, TrieTables, banned_mask, force, level_logprobs, select

Attention = Literal["auto", "shared_prefix", "generic"]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_SHARED_PREFIX_TYPES = ("llama", "qwen2")
# (level, scores (B, nb), nodes (B, nb), code log-probs (B, nb, C_l)) -> the beams kept at that level
Step = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], Beams]


def shared_prefix_unsupported(model: PreTrainedModel) -> str | None:
    """Why the shared-prefix path cannot run this model (None when it can)."""
    config = model.config
    if config.model_type not in _SHARED_PREFIX_TYPES:
        return f"model_type {config.model_type!r} is not one of {_SHARED_PREFIX_TYPES}"
    base = getattr(model, "model", None)
    if base is None or not hasattr(base, "rotary_emb") or not hasattr(model, "lm_head"):
        return "no .model.rotary_emb / .lm_head"
    if any(t != "full_attention" for t in getattr(config, "layer_types", None) or []):
        return "sliding-window layers"
    for layer in base.layers:
        attn = layer.self_attn
        if not all(hasattr(attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj", "scaling", "head_dim")):
            return "attention without q/k/v/o projections"
        if hasattr(attn, "q_norm") or hasattr(attn, "k_norm"):
            return "attention with q/k norms"
    return None


class HFBeamGenerator(Generator):
    """Trie-constrained beam search on a transformers causal LM (CPU default backend)."""

    def __init__(
        self,
        model: PreTrainedModel,
        trie: CodeTrie,
        beam_width: int | None = None,
        dtype: str | None = None,
        batch_size: int = 32,
        attention: Attention = "auto",
        pad_token_id: int = 0,
    ) -> None:
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1; got {batch_size}")
        if dtype is not None and dtype not in DTYPES:
            raise UserError(f"dtype must be one of {sorted(DTYPES)}; got {dtype!r}")
        if dtype is not None and DTYPES[dtype] != model.dtype:
            model = copy.deepcopy(model)
            model.to(DTYPES[dtype])  # type: ignore[arg-type]
        vocab_size = int(model.get_input_embeddings().weight.shape[0])  # type: ignore[index]
        top = max(int(t.max()) for t in trie.level_token_ids)
        if top >= vocab_size:
            raise UserError(f"the trie uses token id {top} but the model's vocabulary has {vocab_size} rows")
        reason = shared_prefix_unsupported(model)
        if attention == "auto":
            attention = "generic" if reason else "shared_prefix"
        elif attention == "shared_prefix" and reason:
            raise UserError(f"attention='shared_prefix' cannot run this model: {reason}")
        elif attention not in ("shared_prefix", "generic"):
            raise UserError(f"attention must be 'auto', 'shared_prefix' or 'generic'; got {attention!r}")
        self.model = model.eval()
        self.trie = trie
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.attention: Attention = attention
        self.pad_token_id = pad_token_id
        self.device = next(model.parameters()).device
        self.tables = TrieTables(trie, self.device)
        tables = self.tables
        paths = torch.as_tensor(trie.item_paths, device=self.device)  # (n_items, L) token ids
        self.item_codes = torch.stack([tables.code_of[lv][paths[:, lv]] for lv in range(trie.n_levels)], dim=1)

    @torch.inference_mode()
    def top_k(
        self, prompts: Sequence[Sequence[int]], k: int, exclude: Sequence[Collection[int]] | None = None
    ) -> list[list[ScoredItem]]:
        k_eff, width = self._plan(prompts, k)
        self._check_exclude(prompts, exclude)
        tables, n_items = self.tables, self.trie.n_items
        out: list[list[ScoredItem]] = [[] for _ in prompts]
        for chunk in self._chunks(prompts):
            banned = banned_mask([exclude[i] for i in chunk], n_items, self.device) if exclude is not None else None

            def step(level: int, s: torch.Tensor, n: torch.Tensor, lp: torch.Tensor) -> Beams:
                return select(tables, level, s, n, lp, width, banned)  # noqa: B023  (used within this iteration)

            beams = self._run([prompts[i] for i in chunk], step)
            scores, items = beams.scores.tolist(), beams.nodes.tolist()
            for row, i in enumerate(chunk):
                out[i] = [
                    ScoredItem(int(it), float(s)) for s, it in zip(scores[row], items[row], strict=True) if s > -1e30
                ][:k_eff]
        return out

    @torch.inference_mode()
    def score(self, prompts: Sequence[Sequence[int]], items: Sequence[Sequence[int]]) -> list[list[float]]:
        self._check_items(prompts, items)
        plan_search(prompts, 1, None, self.trie.n_items)  # the prompts' own checks
        tables = self.tables
        out: list[list[float]] = [[] for _ in prompts]
        for chunk in self._chunks(prompts):
            width = max(len(items[i]) for i in chunk)
            if width == 0:
                continue
            codes = torch.full((len(chunk), width, tables.n_levels), -1, dtype=torch.long, device=self.device)
            for row, i in enumerate(chunk):
                if items[i]:
                    wanted = torch.as_tensor([int(x) for x in items[i]], device=self.device)
                    codes[row, : len(items[i])] = self.item_codes[wanted]

            def step(level: int, s: torch.Tensor, n: torch.Tensor, lp: torch.Tensor) -> Beams:
                return force(tables, level, s, n, lp, codes[:, :, level])  # noqa: B023

            scores = self._run([prompts[i] for i in chunk], step).scores.tolist()
            for row, i in enumerate(chunk):
                out[i] = [float(s) for s in scores[row][: len(items[i])]]
        return out

    def _chunks(self, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
        """Prompt indices in batches of `batch_size`, sorted by prompt length (less padding)."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        return [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

    def _run(self, prompts: Sequence[Sequence[int]], step: Step) -> Beams:
        return self._shared_prefix(prompts, step) if self.attention == "shared_prefix" else self._generic(prompts, step)

    # --- shared-prefix path -------------------------------------------------------------------------------------

    def _shared_prefix(self, prompts: Sequence[Sequence[int]], step: Step) -> Beams:
        model, tables = self.model, self.tables
        ids, lens = self._pad(prompts, left=False)
        rows = torch.arange(len(prompts), device=self.device)
        last, prompt_kv = self._prefill(ids, lens)
        logits = model.lm_head(last)[:, None, :]  # (B, 1, V)
        max_len = ids.shape[1]
        valid = torch.arange(max_len, device=self.device)[None, :] < lens[:, None]  # (B, P)
        prompt_bias = torch.zeros(valid.shape, dtype=torch.float32, device=self.device)
        prompt_bias = prompt_bias.masked_fill(~valid, float("-inf"))[:, None, None, :]  # (B, 1, 1, P)

        b = len(prompts)
        scores = torch.zeros(b, 1, device=self.device)
        nodes = torch.zeros(b, 1, dtype=torch.long, device=self.device)
        gen_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        beams = step(0, scores, nodes, level_logprobs(logits, tables.token_ids[0]))
        for level in range(1, tables.n_levels):
            if gen_kv is not None:
                gen_kv = [(k[rows[:, None], beams.parent], v[rows[:, None], beams.parent]) for k, v in gen_kv]
            tokens = tables.token_ids[level - 1][beams.codes]  # (B, W)
            hidden, gen_kv = self._decode(tokens, lens + (level - 1), prompt_kv, prompt_bias, gen_kv)
            logits = model.lm_head(hidden)
            beams = step(level, beams.scores, beams.nodes, level_logprobs(logits, tables.token_ids[level]))
        return beams

    def _prefill(
        self, ids: torch.Tensor, lens: torch.Tensor
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Right-padded prompts (B, P) -> final-norm hidden state at each prompt's last token (B, H) and every layer's
        prompt keys/values (B, Hkv, P, D). The last layer computes keys and values at every position but its query,
        attention output and MLP only at the last token: nothing else reads them (exact, and one layer's work less)."""
        base = self.model.model
        b, p_len = ids.shape
        rows = torch.arange(b, device=self.device)
        x = base.embed_tokens(ids)  # (B, P, H)
        cos, sin = base.rotary_emb(x, torch.arange(p_len, device=self.device)[None, :].expand(b, p_len))
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, P, D)
        key_ok = torch.arange(p_len, device=self.device)[None, :] < lens[:, None]  # (B, P)
        kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        n_layers = len(base.layers)
        for i, layer in enumerate(base.layers):
            attn = layer.self_attn
            d = attn.head_dim
            h = layer.input_layernorm(x)
            k = _rope(attn.k_proj(h).view(b, p_len, -1, d).transpose(1, 2), cos, sin)  # (B, Hkv, P, D)
            v = attn.v_proj(h).view(b, p_len, -1, d).transpose(1, 2)
            kv.append((k, v))
            if i < n_layers - 1:
                q = _rope(attn.q_proj(h).view(b, p_len, -1, d).transpose(1, 2), cos, sin)  # (B, Hq, P, D)
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=attn.scaling, enable_gqa=True)
                x = x + attn.o_proj(o.transpose(1, 2).reshape(b, p_len, -1))
            else:  # the last layer: only each prompt's last token goes on
                at = lens - 1
                x, h = x[rows, at][:, None], h[rows, at][:, None]  # (B, 1, H)
                c, s_ = cos[rows, :, at][:, :, None], sin[rows, :, at][:, :, None]  # (B, 1, 1, D)
                q = _rope(attn.q_proj(h).view(b, 1, -1, d).transpose(1, 2), c, s_)  # (B, Hq, 1, D)
                mask = key_ok[:, None, None, :]  # right padding: a prompt's tokens are all before its last one
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scaling, enable_gqa=True)
                x = x + attn.o_proj(o.transpose(1, 2).reshape(b, 1, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return base.norm(x[:, 0]), kv

    def _decode(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        prompt_kv: list[tuple[torch.Tensor, torch.Tensor]],
        prompt_bias: torch.Tensor,
        gen_kv: list[tuple[torch.Tensor, torch.Tensor]] | None,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """One token per beam through every decoder layer; returns final-norm hidden (B, W, H) and the new gen KV."""
        base = self.model.model
        b, nb = tokens.shape
        x = base.embed_tokens(tokens)  # (B, W, H)
        pos = positions[:, None].expand(b, nb)
        cos, sin = base.rotary_emb(x, pos)  # (B, W, D)
        cos, sin = cos[:, :, None, :], sin[:, :, None, :]
        new_kv = []
        for i, layer in enumerate(base.layers):
            attn = layer.self_attn
            d = attn.head_dim
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(b, nb, -1, d)
            k = attn.k_proj(h).view(b, nb, -1, d)
            v = attn.v_proj(h).view(b, nb, -1, d)
            q, k = _rope(q, cos, sin), _rope(k, cos, sin)
            hkv = k.shape[2]
            g = q.shape[2] // hkv
            gk, gv = k[:, :, :, None, :], v[:, :, :, None, :]  # (B, W, Hkv, 1, D)
            if gen_kv is not None:
                gk = torch.cat([gen_kv[i][0], gk], dim=3)
                gv = torch.cat([gen_kv[i][1], gv], dim=3)
            new_kv.append((gk, gv))
            t = gk.shape[3]
            q5 = q.view(b, nb, hkv, g, d)
            pk, pv = prompt_kv[i]  # (B, Hkv, P, D)
            p_len = pk.shape[2]
            qp = q5.permute(0, 2, 1, 3, 4).reshape(b, hkv, nb * g, d)
            s_prompt = torch.matmul(qp, pk.transpose(-1, -2))  # (B, Hkv, W*g, P)
            s_gen = torch.einsum("bnhgd,bnhtd->bhngt", q5, gk).reshape(b, hkv, nb * g, t)
            s = torch.cat([s_prompt.float() * attn.scaling + prompt_bias, s_gen.float() * attn.scaling], dim=-1)
            p = torch.softmax(s, dim=-1).to(q.dtype)
            o = torch.matmul(p[..., :p_len], pv)  # (B, Hkv, W*g, D)
            o = o + torch.einsum("bhngt,bnhtd->bhngd", p[..., p_len:].reshape(b, hkv, nb, g, t), gv).reshape(
                b, hkv, nb * g, d
            )
            o = o.view(b, hkv, nb, g, d).permute(0, 2, 1, 3, 4).reshape(b, nb, hkv * g * d)
            x = x + attn.o_proj(o)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return base.norm(x), new_kv

    # --- generic path -------------------------------------------------------------------------------------------

    def _generic(self, prompts: Sequence[Sequence[int]], step: Step) -> Beams:
        model, tables = self.model, self.tables
        ids, lens = self._pad(prompts, left=True)
        b, p_len = ids.shape
        mask = torch.arange(p_len, device=self.device)[None, :] >= (p_len - lens)[:, None]
        position_ids = (mask.long().cumsum(-1) - 1).clamp_min(0)
        cache = DynamicCache(config=model.config)
        out = model(
            input_ids=ids,
            attention_mask=mask.long(),
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        scores = torch.zeros(b, 1, device=self.device)
        nodes = torch.zeros(b, 1, dtype=torch.long, device=self.device)
        beams = step(0, scores, nodes, level_logprobs(out.logits, tables.token_ids[0]))
        nb = beams.scores.shape[1]
        cache = out.past_key_values
        cache.batch_repeat_interleave(nb)
        flat_mask = mask.long().repeat_interleave(nb, dim=0)
        flat_lens = lens.repeat_interleave(nb)
        offsets = (torch.arange(b, device=self.device) * nb)[:, None]
        for level in range(1, tables.n_levels):
            if level > 1:
                cache.reorder_cache((offsets + beams.parent).reshape(-1))
            tokens = tables.token_ids[level - 1][beams.codes].reshape(-1, 1)
            flat_mask = torch.cat([flat_mask, torch.ones_like(flat_mask[:, :1])], dim=1)
            out = model(
                input_ids=tokens,
                attention_mask=flat_mask,
                position_ids=(flat_lens + (level - 1))[:, None],
                past_key_values=cache,
                use_cache=True,
            )
            cache = out.past_key_values
            logits = out.logits[:, -1, :].reshape(b, nb, -1)
            beams = step(level, beams.scores, beams.nodes, level_logprobs(logits, tables.token_ids[level]))
        return beams

    def _pad(self, prompts: Sequence[Sequence[int]], left: bool) -> tuple[torch.Tensor, torch.Tensor]:
        lens = torch.tensor([len(p) for p in prompts], device=self.device)
        ids = torch.full((len(prompts), int(lens.max())), self.pad_token_id, dtype=torch.long, device=self.device)
        for row, p in enumerate(prompts):
            seq = torch.as_tensor(list(p), dtype=torch.long, device=self.device)
            if left:
                ids[row, ids.shape[1] - len(p) :] = seq
            else:
                ids[row, : len(p)] = seq
        return ids, lens


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin
