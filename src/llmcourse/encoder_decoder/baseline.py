"""The RNN encoder–decoder without attention, the transformer's baseline (Chapter 10 — The encoder–decoder).

Before attention, a translator was two recurrent networks: one reads the source into its state,
the other writes the target from that state. :class:`RNNSeq2Seq` is that model with torch's GRU
(Chapter 04 — the RNN baseline builds the same cell).
"""

from __future__ import annotations

import torch
from torch import nn

from llmcourse._checks import in_vocab, positive_int, tensor
from llmcourse.rnn import CarriedState


class RNNSeq2Seq(nn.Module):
    """A GRU encoder–decoder without attention (Sutskever et al., 2014; Cho et al., 2014).

    The encoder GRU reads the source embeddings; its state after each row's **last real token**
    (padding skipped with ``pack_padded_sequence``) starts the decoder GRU, which reads the target
    embeddings; a linear head gives the logits. Nothing else passes from the source to the
    decoder: the whole sentence must fit in ``n_layers × d_hidden`` numbers. ``memory`` is that
    state, batch first ``(B, n_layers, H)``; ``memory_mask`` is ``None``. ``reverse_source=True``
    reads each source backwards (Sutskever et al.'s trick): the words a translation starts with are
    then the last the encoder read.

    >>> RNNSeq2Seq(10, 12, d_embed=8, d_hidden=16)(torch.tensor([[4, 5, 0]]), torch.tensor([[1, 7]])).shape
    torch.Size([1, 2, 12])

    Chapter 10 — The encoder–decoder (the GRU: Chapter 04 — the RNN baseline).
    """

    max_context = None

    def __init__(self, src_vocab: int, tgt_vocab: int, *, d_embed: int = 64, d_hidden: int = 256,
                 n_layers: int = 1, pad_id: int = 0, reverse_source: bool = False) -> None:
        super().__init__()
        self.pad_id, self.reverse_source = pad_id, bool(reverse_source)
        self.src_emb = nn.Embedding(positive_int("src_vocab", src_vocab), positive_int("d_embed", d_embed))
        self.tgt_emb = nn.Embedding(positive_int("tgt_vocab", tgt_vocab), d_embed)
        self.encoder = nn.GRU(d_embed, positive_int("d_hidden", d_hidden), positive_int("n_layers", n_layers),
                              batch_first=True)
        self.decoder = nn.GRU(d_embed, d_hidden, n_layers, batch_first=True)
        self.head = nn.Linear(d_hidden, tgt_vocab)

    def new_caches(self) -> CarriedState:
        """An empty :class:`~llmcourse.rnn.CarriedState`: the decoder's state, for incremental decoding."""
        return CarriedState()

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, None]:
        """``src (B, S)`` → the encoder's final state ``(B, n_layers, H)`` and no mask."""
        in_vocab("src", tensor("src", src, "(B, S)", dtype="long"), self.src_emb.num_embeddings)
        lengths = (src != self.pad_id).sum(dim=1).clamp(min=1)
        if self.reverse_source:                       # read each row's real tokens last to first
            pos = torch.arange(src.shape[1], device=src.device)
            backwards = (lengths[:, None] - 1 - pos).clamp(min=0)
            src = src.gather(1, backwards).masked_fill(pos >= lengths[:, None], self.pad_id)
        packed = nn.utils.rnn.pack_padded_sequence(self.src_emb(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.encoder(packed)                                        # (L, B, H)
        return h.transpose(0, 1), None

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, memory_mask: None = None, *,
               caches: CarriedState | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)``; the decoder starts from ``memory`` (or goes on from ``caches``)."""
        in_vocab("tgt_in", tensor("tgt_in", tgt_in, "(B, T)", dtype="long"), self.tgt_emb.num_embeddings)
        h = memory.transpose(0, 1).contiguous() if caches is None or caches.state is None else caches.state
        out, h = self.decoder(self.tgt_emb(tgt_in), h)                     # (B, T, H)
        if caches is not None:
            caches.state = h
        return self.head(out)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, *self.encode(src))
