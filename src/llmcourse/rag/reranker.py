"""A cross-encoder reranker fine-tuned from the story BERT (Chapter 13 — Retrieval-augmented generation).

A first-stage retriever embeds the question and the chunk apart and compares two vectors; a
*cross-encoder* reads them together, ``[CLS] question [SEP] chunk [SEP]``, so every word of one
can attend to every word of the other, and gives one relevance score. It is far too slow to read
every chunk, so it reranks the first stage's top 50. Read top to bottom:

1. :class:`PairTokenizer` — the story BERT's words and the words of the World's templates
   (:func:`frequent_words`); every other word (an invented name) becomes a numbered placeholder,
   the same in the question and in the chunk, and the segment ids mark the words found on both
   sides, so the model sees at once what the two share;
2. :class:`CrossEncoder` and :func:`cross_encoder_from_story_bert` — the zoo's ``bert-stories``
   encoder, its embedding table grown for the new ids, and a linear score on its pooled
   ``[CLS]``;
3. :func:`training_groups` and :func:`train_cross_encoder` — each question with its gold chunk
   and hard negatives (the first stage's best wrong chunks), trained so that the gold chunk gets
   the highest score of its group (a softmax over the group, cross-entropy);
4. :func:`rerank` — score the top candidates of every question and sort them again.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import eval_mode, int_at_least, positive, positive_int, tensor
from llmcourse.bert import BERT, BertConfig, cls_pool

__all__ = ["PairTokenizer", "CrossEncoder", "cross_encoder_from_story_bert", "training_groups",
           "train_cross_encoder", "cross_encoder_scores", "rerank"]


class PairTokenizer:
    """Question–chunk pairs → ids for a :class:`CrossEncoder`, with invented names anonymised.

    ``base`` is a word-level :class:`~llmcourse.tokenization.WordPieceTokenizer` (the story
    BERT's); ``extra`` words are appended to its vocabulary. A number outside it becomes its shape,
    ``[N1]`` … ``[N4]`` (one to four or more digits: a year is ``[N4]``). Any other word outside
    it — an invented name — becomes a placeholder ``[E0]``, ``[E1]``, … numbered by its first
    appearance *in the pair*, question first: the same name gets the same placeholder in the
    question and in the chunk, so the model sees that they match without knowing the name (the
    anonymised entities of the CNN/Daily Mail reading-comprehension data, Hermann et al., 2015).
    Past ``slots`` placeholders a word is ``[UNK]``. Words are split as ``base`` splits them.

    >>> from llmcourse.bert import story_tokenizer
    >>> tok = PairTokenizer(story_tokenizer(["Who is a pet called Tollo ?."]), extra=["newt", "newts"])
    >>> ids, segments, lengths = tok.encode_pairs(["Who is Qwisp?"], ["Qwisp is a newt called Ombrel in 1901."])
    >>> print(tok.decode(ids[0]))
    [CLS] Who is [E0] ? [SEP] [E0] is a newt called [E1] [E2] [N4] . [SEP]
    >>> segments[0].tolist()      # 0: question, 1: passage; + 2 on a word found on both sides
    [0, 0, 2, 2, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1]

    With ``mark_shared`` (the default) the segment id also says whether the word occurs on both
    sides — the *exact match* feature of the DrQA reader (Chen et al., 2017): 2 in the question, 3
    in the passage, instead of 0 and 1 — where two words count as the same after lower-casing and
    dropping a plural *s* (``colours`` matches ``colour``). The model no longer has to learn to
    notice that two ids are equal.

    Chapter 13 — Retrieval-augmented generation.
    """

    def __init__(self, base, extra: Sequence[str] = (), *, slots: int = 16, mark_shared: bool = True) -> None:
        self.base, self.mark_shared = base, mark_shared
        self.vocab = dict(base.vocab)
        numbers = [f"[N{n}]" for n in range(1, 5)]
        for word in [*extra, *(f"[E{i}]" for i in range(positive_int("slots", slots))), *numbers]:
            self.vocab.setdefault(word, len(self.vocab))
        self.slots = slots
        self.tokens = {i: t for t, i in self.vocab.items()}
        self._words: dict[str, list[str]] = {}
        self.cls, self.sep, self.pad, self.unk = (self.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def words(self, text: str) -> list[str]:
        """``text`` split into words as the base tokenizer splits them (remembered: texts repeat)."""
        if text not in self._words:
            self._words[text] = self.base.basic_tokenize(text)
        return self._words[text]

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        return " ".join(self.tokens[i] for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids)
                        if i != self.pad)

    def _key(self, i: int) -> str:
        """What two words must share to count as the same: lower case, without a plural ``s``."""
        word = self.tokens[i]
        return word if word.startswith("[") else word.lower().removesuffix("s") if len(word) > 3 else word.lower()

    def pair_ids(self, question: str, passage: str) -> tuple[list[int], list[int]]:
        """The ids of ``[CLS] question [SEP]`` and of ``passage [SEP]``, names anonymised across both."""
        names: dict[str, int] = {}

        def ids(text: str) -> list[int]:
            out = []
            for word in self.words(text):
                if word in self.vocab:
                    out.append(self.vocab[word])
                elif word.isdigit():                               # a number: only its shape, [N1]-[N4]
                    out.append(self.vocab[f"[N{min(len(word), 4)}]"])
                elif len(names) < self.slots or word in names:
                    out.append(self.vocab[f"[E{names.setdefault(word, len(names))}]"])
                else:
                    out.append(self.unk)
            return out + [self.sep]

        return [self.cls] + ids(question), ids(passage)

    def encode_pairs(self, questions: Sequence[str], passages: Sequence[str], *,
                     max_len: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(ids, segments, lengths)``: rows ``[CLS] q [SEP] p [SEP]`` right-padded, ``(B, T)``, ``(B,)``.

        Segment 0 up to the first ``[SEP]``, 1 after; a row longer than ``max_len`` loses the end
        of its passage (its last ``[SEP]`` kept).
        """
        if len(questions) != len(passages):
            raise ValueError(f"{len(questions)} questions but {len(passages)} passages: one passage per question")
        rows, segs = [], []
        for q, p in zip(questions, passages):
            a, b = self.pair_ids(q, p)
            ids = (a + b)[:max_len - 1] + [self.sep] if len(a) + len(b) > max_len else a + b
            rows.append(ids)
            segs.append([0] * len(a) + [1] * (len(ids) - len(a)))
            if self.mark_shared:
                shared = {self._key(i) for i in a} & {self._key(i) for i in b} - {"[CLS]", "[SEP]"}
                segs[-1] = [s + 2 * (self._key(i) in shared) for s, i in zip(segs[-1], ids)]
        T = max(map(len, rows), default=1)
        return (torch.tensor([r + [self.pad] * (T - len(r)) for r in rows], dtype=torch.long).view(len(rows), T),
                torch.tensor([s + [0] * (T - len(s)) for s in segs], dtype=torch.long).view(len(rows), T),
                torch.tensor([len(r) for r in rows], dtype=torch.long))


class CrossEncoder(nn.Module):
    """A BERT that reads a question and a chunk together: ``(ids, segments, lengths)`` → scores ``(B,)``.

    The score is ``w · tanh(pooler(h[CLS])) + b``: BERT's pooled sentence vector, then one linear unit.

    Chapter 13 — Retrieval-augmented generation.
    """

    def __init__(self, bert: BERT) -> None:
        super().__init__()
        self.bert = bert
        self.score = nn.Linear(bert.config.d_model, 1)
        nn.init.normal_(self.score.weight, std=0.02)
        nn.init.zeros_(self.score.bias)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bert(ids, segments, lengths)                                       # (B, T, C)
        return self.score(torch.tanh(self.bert.pooler(cls_pool(h)))).squeeze(-1)   # (B,)


def cross_encoder_from_story_bert(extra: Sequence[str], *, slots: int = 16, mark_shared: bool = True,
                                  seed: int = 0) -> tuple[CrossEncoder, PairTokenizer]:
    """A :class:`CrossEncoder` on the zoo's ``bert-stories`` weights, with its :class:`PairTokenizer`.

    The story BERT's embedding rows keep their words; the rows of the ``extra`` words and of the
    placeholders are new, each drawn (with ``seed``) from the old rows' mean and spread, dimension
    by dimension (as Chapter 11 grew the GPT's vocabulary). Everything else is copied.

    Chapter 13 — Retrieval-augmented generation.
    """
    from llmcourse.zoo import load_pretrained

    zoo = load_pretrained("bert-stories")
    old = zoo.model.bert
    tokenizer = PairTokenizer(zoo.tokenizer, extra, slots=slots, mark_shared=mark_shared)
    config = BertConfig(**{**old.config.__dict__, "vocab_size": tokenizer.vocab_size,
                           "n_segments": 4 if mark_shared else 2})
    bert = BERT(config)
    state = old.state_dict()
    bert.load_state_dict({k: v for k, v in state.items() if k not in ("tok_emb.weight", "seg_emb.weight")},
                         strict=False)
    with torch.no_grad():
        bert.seg_emb.weight.copy_(state["seg_emb.weight"].repeat(config.n_segments // 2, 1))
    rows = old.tok_emb.weight.detach()                                                        # (V, C)
    noise = torch.randn(config.vocab_size, rows.shape[1], generator=torch.Generator().manual_seed(seed))
    table = rows.mean(dim=0) + rows.std(dim=0) * noise
    table[:len(rows)] = rows
    with torch.no_grad():
        bert.tok_emb.weight.copy_(table)
    torch.manual_seed(seed)
    return CrossEncoder(bert), tokenizer


def frequent_words(tokenizer, texts: Sequence[str], *, min_texts: int) -> list[str]:
    """The words (as ``tokenizer.basic_tokenize`` splits them) found in at least ``min_texts`` of
    ``texts``, most frequent first: the words of templates, not the names of single entities.

    Chapter 13 — Retrieval-augmented generation.
    """
    counts = Counter(w for text in texts for w in set(tokenizer.basic_tokenize(text)))
    return [w for w, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if n >= min_texts]


def training_groups(questions: Sequence[str], gold: Sequence[Sequence[int]], candidates: torch.Tensor, *,
                    negatives: int = 7, seed: int = 0) -> list[tuple[int, list[int]]]:
    """``(question index, [gold chunk, negative, ...])`` for every question that has a gold chunk.

    The negatives are ``negatives`` chunks drawn at random (with ``seed``) among the question's
    ``candidates (Q, K)`` — a first stage's top ``K`` — that are not gold: *hard negatives*, wrong
    chunks that look right to a simpler retriever.

    Chapter 13 — Retrieval-augmented generation.
    """
    rng = random.Random(seed)
    groups = []
    for i, (wanted, row) in enumerate(zip(gold, candidates.tolist())):
        if not wanted:
            continue
        wrong = [c for c in row if c not in set(wanted)]
        groups.append((i, [wanted[0]] + rng.sample(wrong, min(negatives, len(wrong)))))
    return groups


def train_cross_encoder(model: CrossEncoder, tokenizer: PairTokenizer, questions: Sequence[str],
                        passages: Sequence[str], groups: Sequence[tuple[int, list[int]]], *, steps: int,
                        batch_size: int = 16, lr: float = 1e-3, seed: int = 0, progress: bool = True) -> list[float]:
    """Fine-tune ``model`` so that in every group the first passage (the gold one) scores highest.

    A step takes ``batch_size`` groups (drawn epoch by epoch, seeded), scores every pair, and
    minimises the cross-entropy of a softmax over each group's scores with the gold passage as the
    target. AdamW at ``lr``, warmed up over the first tenth of the steps then decayed linearly to
    zero. Returns the loss of every step.

    Chapter 13 — Retrieval-augmented generation.
    """
    int_at_least("steps", steps, 0)
    positive_int("batch_size", batch_size)
    if not groups:
        raise ValueError("train_cross_encoder needs at least one group")
    optimizer = torch.optim.AdamW(model.parameters(), lr=positive("lr", lr), weight_decay=0.01)
    warmup = max(steps // 10, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(steps - warmup, 1))))
    rng, order, losses = random.Random(seed), [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="reranker", leave=False)
    model.train()
    for _ in range(steps):
        if len(order) < batch_size:
            fresh = list(range(len(groups)))
            rng.shuffle(fresh)
            order += fresh
        batch, order = [groups[i] for i in order[:batch_size]], order[batch_size:]
        size = min(len(g) for _, g in batch)                       # equal groups: one (B, size) score matrix
        pairs = [(questions[q], passages[c]) for q, g in batch for c in g[:size]]
        ids, segments, lengths = tokenizer.encode_pairs(*zip(*pairs), max_len=model.bert.config.max_len)
        scores = model(ids, segments, lengths).view(len(batch), size)
        loss = F.cross_entropy(scores, torch.zeros(len(batch), dtype=torch.long))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    model.eval()
    return losses


@torch.no_grad()
def cross_encoder_scores(model: CrossEncoder, tokenizer: PairTokenizer, questions: Sequence[str],
                         passages: Sequence[str], candidates: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """``(Q, K)``: the cross-encoder's score of ``passages[candidates[q, j]]`` for question ``q``.

    Chapter 13 — Retrieval-augmented generation.
    """
    Q, K = tensor("candidates", candidates, f"({len(questions)}, K)", dtype="long").shape
    pairs = [(questions[q], passages[c]) for q in range(Q) for c in candidates[q].tolist()]
    out = []
    with eval_mode(model):
        for i in range(0, len(pairs), positive_int("batch_size", batch_size)):
            ids, segments, lengths = tokenizer.encode_pairs(*zip(*pairs[i:i + batch_size]),
                                                            max_len=model.bert.config.max_len)
            out.append(model(ids, segments, lengths))
    return torch.cat(out).view(Q, K) if out else torch.zeros(Q, K)


def rerank(candidates: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """``candidates (Q, K)`` sorted again by ``scores (Q, K)`` (highest first; ties keep their order).

    >>> rerank(torch.tensor([[7, 3, 5]]), torch.tensor([[0.1, 2.0, 0.5]])).tolist()
    [[3, 5, 7]]

    Chapter 13 — Retrieval-augmented generation.
    """
    tensor("scores", scores, f"({candidates.shape[0]}, {candidates.shape[1]})", dtype="float")
    return candidates.gather(1, torch.sort(scores, dim=1, descending=True, stable=True).indices)
