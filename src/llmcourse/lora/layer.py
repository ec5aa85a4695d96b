"""The LoRA layer, its injection into a model, merging, and what training costs (Chapter 12).

* :class:`LoRALinear` — a frozen ``nn.Linear`` plus ``scaling · B A``;
* :func:`inject_lora` (by module name, peft's rule) and :func:`lora_layers`;
* :func:`merge_lora`, :func:`unmerge_lora`, :func:`merge_and_unload`;
* :func:`lora_parameters` and :func:`optimizer_state_bytes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import positive, positive_int, probability, tensor


def lora_scaling(r: int, alpha: float, *, rslora: bool = False) -> float:
    """The factor on the low-rank path: ``alpha / r``, or rsLoRA's ``alpha / √r``.

    >>> lora_scaling(8, 16), lora_scaling(16, 16, rslora=True)
    (2.0, 4.0)

    Chapter 12 — LoRA.
    """
    positive_int("r", r)
    positive("alpha", alpha)
    return alpha / math.sqrt(r) if rslora else alpha / r


class LoRALinear(nn.Module):
    """A linear layer with a frozen weight and a trainable low-rank update: ``(..., k)`` → ``(..., d)``.

    ``forward(x) = x Wᵀ + b + scaling · (dropout(x) Aᵀ) Bᵀ``. ``W (d, k)`` and ``b (d,)`` are
    ``base``'s own tensors, frozen (``requires_grad=False``); ``A (r, k)`` is drawn as an
    ``nn.Linear`` weight is (Kaiming-uniform with ``a = √5``: uniform in ``±1/√k``) and
    ``B (d, r)`` is zeros, so a fresh layer computes exactly what ``base`` did. ``scaling`` is
    :func:`lora_scaling` (``alpha / r``; ``alpha / √r`` with ``rslora=True``). Dropout acts on
    the low-rank path only. The update ``scaling · B A`` has rank at most ``r``, and training it
    changes ``r (d + k)`` numbers instead of ``d k``. :meth:`merge` adds it to ``W`` (the forward
    pass is then one product again); :meth:`unmerge` takes it out.

    >>> layer = LoRALinear(nn.Linear(1000, 1000), r=8, alpha=16)
    >>> layer.lora_A.numel() + layer.lora_B.numel(), layer.weight.numel(), layer.scaling
    (16000, 1000000, 2.0)

    Chapter 12 — LoRA.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, *, dropout: float = 0.0, rslora: bool = False,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self.r, self.alpha, self.rslora = r, float(alpha), bool(rslora)
        self.scaling = lora_scaling(r, alpha, rslora=rslora)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight                     # (d, k): the pretrained tensor itself, frozen
        self.bias = base.bias                         # (d,) or None, frozen
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        like = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, **like))    # (r, k)
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **like))   # (d, r): zeros
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5), generator=generator)
        probability("dropout", dropout)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """The update ``scaling · B A`` as a ``(d, k)`` matrix: what :meth:`merge` adds to ``W``."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensor("x", x, f"(..., {self.in_features})")
        y = F.linear(x, self.weight, self.bias)                               # (..., d)
        if self.merged:
            return y
        low = F.linear(self.dropout(x), self.lora_A)                         # (..., r)
        return y + self.scaling * F.linear(low, self.lora_B)                 # (..., d)

    @torch.no_grad()
    def merge(self) -> None:
        """``W ← W + scaling · B A``; the forward pass then skips the low-rank path."""
        if self.merged:
            raise RuntimeError("this LoRA layer is already merged")
        self.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """``W ← W − scaling · B A``: the pretrained weight again, up to rounding."""
        if not self.merged:
            raise RuntimeError("this LoRA layer is not merged")
        self.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, r={self.r}, "
                f"alpha={self.alpha:g}, scaling={self.scaling:g}, merged={self.merged}")


def _matches(name: str, targets: Sequence[str]) -> bool:
    """``name`` equals a target or ends with ``"." + target`` (peft's rule for ``target_modules``)."""
    return any(name == t or name.endswith("." + t) for t in targets)


def inject_lora(model: nn.Module, targets: Sequence[str], *, r: int, alpha: float, dropout: float = 0.0,
                rslora: bool = False, seed: int | None = 0) -> list[str]:
    """Freeze ``model``, then put a :class:`LoRALinear` in place of each ``nn.Linear`` that ``targets`` names.

    A module is chosen when its name (from ``model.named_modules()``) equals a target or ends with
    ``"." + target``, the rule of peft's ``target_modules``: in our GPT ``"qkv"`` picks every
    block's ``attn.qkv``, ``"proj"`` both ``attn.proj`` and ``mlp.proj``, ``"attn.proj"`` only
    the first. Every parameter of the model is frozen first, so that only the ``lora_A`` and
    ``lora_B`` tensors train. The ``A`` matrices are drawn with ``seed`` (``None``: torch's global
    generator). Returns the replaced modules' names in model order; raises ``ValueError`` when no
    ``nn.Linear`` matches, and when the model already holds LoRA layers.

    >>> from llmcourse.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layers=2, n_heads=2, d_model=16))
    >>> inject_lora(model, ["qkv"], r=2, alpha=4)
    ['blocks.0.attn.qkv', 'blocks.1.attn.qkv']

    Chapter 12 — LoRA.
    """
    if isinstance(targets, str):
        raise ValueError(f"targets must be a list of module names, got the string {targets!r}")
    if lora_layers(model):
        raise ValueError("the model already has LoRA layers: merge_and_unload it first, or load into a fresh copy")
    chosen = [(name, module) for name, module in model.named_modules()
              if isinstance(module, nn.Linear) and _matches(name, targets)]
    if not chosen:
        linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(f"no nn.Linear of the model is named by {list(targets)}; its linear layers: {linear}")
    model.requires_grad_(False)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    for name, module in chosen:
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child,
                LoRALinear(module, r, alpha, dropout=dropout, rslora=rslora, generator=generator))
    return [name for name, _ in chosen]


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """Every :class:`LoRALinear` of ``model``, by name.

    Chapter 12 — LoRA.
    """
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module) -> int:
    """Merge every LoRA layer of ``model`` (:meth:`LoRALinear.merge`); returns how many there are.

    Chapter 12 — LoRA.
    """
    layers = lora_layers(model).values()
    for layer in layers:
        layer.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Unmerge every LoRA layer of ``model`` (:meth:`LoRALinear.unmerge`); returns how many there are.

    Chapter 12 — LoRA.
    """
    layers = lora_layers(model).values()
    for layer in layers:
        layer.unmerge()
    return len(layers)


@torch.no_grad()
def merge_and_unload(model: nn.Module) -> nn.Module:
    """Replace, in place, every :class:`LoRALinear` by a plain ``nn.Linear`` holding ``W + scaling · B A``.

    Returns ``model``, with the architecture and parameter names it had before :func:`inject_lora`
    and every parameter trainable again: a model like any other, the adapter baked in.

    Chapter 12 — LoRA.
    """
    for name, layer in lora_layers(model).items():
        plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                          dtype=layer.weight.dtype, device=layer.weight.device)
        plain.weight.copy_(layer.weight if layer.merged else layer.weight + layer.delta_weight())
        if layer.bias is not None:
            plain.bias.copy_(layer.bias)
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, plain)
    model.requires_grad_(True)
    return model


def lora_parameters(model: nn.Module) -> dict[str, int]:
    """``{"trainable": …, "total": …}``: the numbers training may change, and all of them.

    A tensor shared by two modules (the GPT's tied head) is counted once.

    >>> from llmcourse.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layers=2, n_heads=2, d_model=16))
    >>> _ = inject_lora(model, ["qkv"], r=2, alpha=4)
    >>> lora_parameters(model)                  # 2 blocks x 2 x (16 + 48) = 256 of them
    {'trainable': 256, 'total': 7136}

    Chapter 12 — LoRA.
    """
    params = list(model.parameters())
    return dict(trainable=sum(p.numel() for p in params if p.requires_grad), total=sum(p.numel() for p in params))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held by the tensors of ``optimizer``'s state (AdamW: two moments per trained number, a step).

    Chapter 12 — LoRA.
    """
    return sum(v.numel() * v.element_size() for state in optimizer.state.values() for v in state.values()
               if isinstance(v, torch.Tensor))
