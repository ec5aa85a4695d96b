"""Teacher-forced training of a sequence-to-sequence model (Chapter 10 — The encoder–decoder).

:func:`sequence_loss` is the cross-entropy of the target given the source and the target's
earlier tokens (the decoder reads :func:`~llmcourse.encoder_decoder.model.shift_right` of the
target); :func:`train_seq2seq` is the loop, for both the transformer and the RNN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import int_at_least, positive, tensor
from llmcourse.encoder_decoder.model import shift_right
from llmcourse.gpt import lr_schedule
from llmcourse.training import progress_bar, set_lr


def sequence_loss(model: nn.Module, src: torch.Tensor, tgt: torch.Tensor, *, bos_id: int = 1,
                  pad_id: int = 0) -> torch.Tensor:
    """Teacher-forced cross-entropy (nats per target token, padding ignored).

    ``tgt (B, T)`` holds each target followed by ``<eos>`` and padding; the model reads
    :func:`shift_right` ``(tgt)`` and is scored on predicting ``tgt``.

    Chapter 10 — The encoder–decoder.
    """
    logits = model(src, shift_right(tgt, bos_id))                          # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), tgt.flatten(), ignore_index=pad_id)


def train_seq2seq(model: nn.Module, src: torch.Tensor, tgt: torch.Tensor, *, steps: int, batch_size: int = 64,
                  lr: float = 3e-3, warmup_steps: int = 100, grad_clip: float = 1.0, seed: int = 0,
                  bos_id: int = 1, pad_id: int = 0, progress: bool = True) -> list[float]:
    """Train on pairs ``src (N, S)``, ``tgt (N, T)`` (padded, ``tgt`` ending in ``<eos>``); return each step's loss.

    Each step draws ``batch_size`` random pairs (seeded with ``seed``: two models trained with the
    same seed see the same batches), cuts the columns that are padding in the whole batch, and takes
    an AdamW step on :func:`sequence_loss` with the gradient norm clipped to ``grad_clip``; the
    learning rate warms up linearly, then decays by a cosine (Chapter 07's ``lr_schedule``) to ``lr / 10``.

    Chapter 10 — The encoder–decoder.
    """
    int_at_least("steps", steps, 1)
    positive("lr", lr)
    if tensor("src", src, "(N, S)", dtype="long").shape[0] != tensor("tgt", tgt, "(N, T)", dtype="long").shape[0]:
        raise ValueError(f"src and tgt need the same number of pairs, got {src.shape[0]} and {tgt.shape[0]}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, foreach=True)
    generator = torch.Generator().manual_seed(seed)
    src_len, tgt_len = (src != pad_id).sum(1), (tgt != pad_id).sum(1)
    bar = progress_bar(steps, f"training {type(model).__name__}", progress)
    losses = []
    model.train()
    for step in range(steps):
        idx = torch.randint(0, src.shape[0], (batch_size,), generator=generator)
        s, t = src[idx, :int(src_len[idx].max())], tgt[idx, :int(tgt_len[idx].max())]
        set_lr(optimizer, lr_schedule(step, max_lr=lr, min_lr=lr / 10, warmup_steps=min(warmup_steps, steps),
                                      total_steps=steps))
        loss = sequence_loss(model, s, t, bos_id=bos_id, pad_id=pad_id)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    model.eval()
    return losses
