"""Masked-language-model data, pretraining and fine-tuning on the story corpus (Chapter 09 — BERT, the encoder).

Read top to bottom:

1. :func:`mask_tokens` — BERT's corruption: choose 15 % of the real tokens; of those, 80 %
   become ``[MASK]``, 10 % a random token, 10 % stay; the labels keep the original ids there
   and ``-100`` everywhere else;
2. :func:`story_tokenizer`, :func:`sentence_pairs` and :func:`encode_texts` — the stories as
   BERT reads them: every two consecutive sentences as ``[CLS] A [SEP] B [SEP]`` with segment ids
   0 and 1, padded into one batch with its ``lengths``;
3. :func:`pretrain` — AdamW on the masked-token loss, fresh masks at every step;
4. :func:`finetune` and :func:`accuracy` — a classifier trained on a few labelled examples.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from llmcourse._checks import eval_mode, int_at_least, positive, positive_int, tensor
from llmcourse.attention import padding_mask
from llmcourse.tokenization import WordPieceTokenizer
from llmcourse.training import progress_bar, set_lr

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")   # ids 0-4 of the story tokenizer, BERT's names
IGNORE = -100                                               # the label of positions without a prediction


def mask_tokens(ids: torch.Tensor, *, mask_id: int, special_ids: Sequence[int], vocab_size: int,
                lengths: torch.Tensor | None = None, p: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: ``ids (B, T)`` → ``(inputs, labels)``, both ``(B, T)`` long.

    Each real token (not padding — positions ``≥ lengths[b]`` — and not one of ``special_ids``)
    is chosen with probability ``p``. A chosen token becomes ``mask_id`` with probability 0.8,
    a random non-special token with probability 0.1, and stays itself with probability 0.1.
    ``labels`` holds the original id at the chosen positions and ``-100`` everywhere else (the
    loss ignores those). All randomness comes from ``generator``.

    >>> ids = torch.tensor([[2, 7, 8, 9, 3, 0]])          # [CLS] a b c [SEP] [PAD]
    >>> inputs, labels = mask_tokens(ids, mask_id=4, special_ids=[0, 1, 2, 3, 4], vocab_size=10,
    ...                              lengths=torch.tensor([5]), p=0.5, generator=torch.Generator().manual_seed(1))
    >>> inputs.tolist(), labels.tolist()
    ([[2, 4, 4, 9, 3, 0]], [[-100, 7, 8, -100, -100, -100]])

    Chapter 09 — BERT, the encoder.
    """
    B, T = tensor("ids", ids, "(B, T)", dtype="long").shape
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    special = torch.tensor(sorted(set(special_ids)), dtype=torch.long)
    real = ~torch.isin(ids, special)                                                # (B, T)
    if lengths is not None:
        real &= padding_mask(lengths, T).view(B, T)
    chosen = real & (torch.rand(B, T, generator=generator) < p)
    action = torch.rand(B, T, generator=generator)                     # < 0.8 mask, < 0.9 random, else keep
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special[special < vocab_size]] = False
    allowed = allowed.nonzero().squeeze(1)                             # the ids a random token may take
    random_ids = allowed[torch.randint(len(allowed), (B, T), generator=generator)]
    inputs = torch.where(chosen & (action < 0.8), mask_id, ids)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    labels = torch.where(chosen, ids, IGNORE)
    return inputs, labels


def story_tokenizer(texts: Sequence[str]) -> WordPieceTokenizer:
    """A word-level vocabulary in Chapter 01's :class:`~llmcourse.tokenization.WordPieceTokenizer`.

    Ids 0–4 are ``[PAD] [UNK] [CLS] [SEP] [MASK]``, then every word and punctuation mark of
    ``texts`` (cased: ``"Mina"`` and ``"mina"`` differ) by decreasing count, ties in
    alphabetical order. Each word is one whole token, so a masked token is one word of the story;
    a word the texts never had becomes ``[UNK]``.

    >>> tok = story_tokenizer(["Mina saw a fox.", "A fox saw Mina!"])
    >>> tok.tokenize("Mina saw a cat."), tok.encode("a fox")
    (['Mina', 'saw', 'a', '[UNK]', '.'], [2, 11, 6, 3])

    Chapter 09 — BERT, the encoder.
    """
    words = WordPieceTokenizer(list(SPECIALS), lowercase=False)
    counts = Counter(w for text in texts for w in words.basic_tokenize(text))
    ordered = sorted(counts, key=lambda w: (-counts[w], w))
    return WordPieceTokenizer([*SPECIALS, *(w for w in ordered if w not in SPECIALS)], lowercase=False)


def sentence_pairs(sentences: Sequence[str]) -> list[tuple[str, str]]:
    """Every two consecutive sentences of a story: BERT's segments A and B.

    >>> sentence_pairs(["It rained.", "Mina stayed in.", "The sun came out."])
    [('It rained.', 'Mina stayed in.'), ('Mina stayed in.', 'The sun came out.')]

    Chapter 09 — BERT, the encoder.
    """
    return list(zip(sentences, sentences[1:]))


@dataclass
class Batch:
    """Texts encoded for BERT: ``ids``, ``segments`` ``(B, T)`` long, ``lengths (B,)``.

    Row ``b`` is ``[CLS] A [SEP] B [SEP]`` (segment 0 up to the first ``[SEP]``, 1 after) or
    ``[CLS] A [SEP]``, then ``[PAD]`` (id 0) up to the longest row. Index it with a tensor or a
    slice to take rows (cut to the longest of them).
    """

    ids: torch.Tensor
    segments: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, rows: torch.Tensor | slice) -> "Batch":
        lengths = self.lengths[rows]
        T = max(int(lengths.max()), 1) if len(lengths) else 1
        return Batch(self.ids[rows, :T], self.segments[rows, :T], lengths)


def encode_texts(tokenizer: WordPieceTokenizer, texts: Sequence[str | tuple[str, str]], *,
                 max_len: int) -> Batch:
    """Texts or pairs of texts → a padded :class:`Batch`.

    A text becomes ``[CLS] text [SEP]``, a pair ``(a, b)`` becomes ``[CLS] a [SEP] b [SEP]`` with
    segment 1 from ``b`` on; a row longer than ``max_len`` tokens is cut, keeping its last
    ``[SEP]``.

    >>> tok = story_tokenizer(["One. Two."])
    >>> batch = encode_texts(tok, [("One.", "Two."), "Two."], max_len=8)
    >>> batch.ids.tolist(), batch.segments.tolist(), batch.lengths.tolist()
    ([[2, 6, 5, 3, 7, 5, 3], [2, 7, 5, 3, 0, 0, 0]], [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]], [7, 4])

    Chapter 09 — BERT, the encoder.
    """
    cls, sep = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    rows, segs, known = [], [], {}
    for text in texts:
        ids, seg = [cls], [0]
        for k, part in enumerate((text,) if isinstance(text, str) else text):
            if part not in known:                   # consecutive pairs share sentences: encode each once
                known[part] = tokenizer.encode(part, add_special_tokens=False) + [sep]
            piece = known[part]
            ids += piece
            seg += [k] * len(piece)
        if len(ids) > positive_int("max_len", max_len):
            ids, seg = ids[:max_len - 1] + [sep], seg[:max_len]
        rows.append(ids)
        segs.append(seg)
    T = max(map(len, rows))
    return Batch(torch.tensor([r + [0] * (T - len(r)) for r in rows]),
                 torch.tensor([s + [0] * (T - len(s)) for s in segs]),
                 torch.tensor([len(r) for r in rows]))


@dataclass
class PretrainHistory:
    """Masked-token loss (nats) and accuracy on held-out texts, and the training loss, by step."""

    steps: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _mask_batch(batch: Batch, tokenizer: WordPieceTokenizer, generator: torch.Generator) -> tuple:
    return mask_tokens(batch.ids, mask_id=tokenizer.vocab["[MASK]"], vocab_size=tokenizer.vocab_size,
                       special_ids=[tokenizer.vocab[t] for t in SPECIALS], lengths=batch.lengths,
                       generator=generator)


@torch.no_grad()
def mlm_evaluate(model: torch.nn.Module, batch: Batch, tokenizer: WordPieceTokenizer, *, seed: int = 1,
                 batch_size: int = 64) -> tuple[float, float]:
    """Masked-token loss (nats) and accuracy of ``model`` on ``batch``, masked with a fixed seed.

    Chapter 09 — BERT, the encoder.
    """
    generator = torch.Generator().manual_seed(seed)
    nats, right, count = 0.0, 0, 0
    with eval_mode(model):
        for start in range(0, len(batch), batch_size):
            part = batch[slice(start, start + batch_size)]
            inputs, labels = _mask_batch(part, tokenizer, generator)
            chosen = labels != IGNORE
            logits = model(inputs, part.segments, part.lengths)[chosen]            # (N, V)
            nats += F.cross_entropy(logits, labels[chosen], reduction="sum").item()
            right += int((logits.argmax(-1) == labels[chosen]).sum())
            count += int(chosen.sum())
    return nats / count, right / count


def _length_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of row indices in batches of similar lengths, in random order (less padding to compute).

    The rows are shuffled, cut into groups of 50 batches, each group sorted by length and cut into
    batches; the batches are then shuffled.
    """
    order = torch.randperm(len(lengths), generator=generator)
    group = 50 * batch_size
    batches = []
    for start in range(0, len(order), group):
        rows = order[start:start + group]
        rows = rows[torch.argsort(lengths[rows], stable=True)]
        batches += list(rows.split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def pretrain(model: torch.nn.Module, train: Batch, val: Batch, tokenizer: WordPieceTokenizer, *, steps: int,
             batch_size: int = 32, lr: float = 2e-3, warmup_steps: int = 100, weight_decay: float = 0.01,
             grad_clip: float = 1.0, eval_every: int = 100, seed: int = 0,
             progress: bool = True) -> PretrainHistory:
    """Train a :class:`~llmcourse.bert.BertForMLM` on masked stories.

    Each step takes a batch of ``batch_size`` rows of ``train`` (each epoch in a new random order,
    rows of similar lengths batched together) and **fresh** masks (*dynamic masking*, as
    RoBERTa does: a row is masked differently every time it is read), computes the
    masked-token loss, and takes an AdamW step at a learning rate that rises linearly for
    ``warmup_steps`` and then decays linearly to 0 at ``steps`` (BERT's schedule). Evaluates
    :func:`mlm_evaluate` on ``val`` at step 0, every ``eval_every`` steps and at the end.

    Chapter 09 — BERT, the encoder.
    """
    int_at_least("steps", steps, 1)
    positive("lr", lr)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    history, recent, batches = PretrainHistory(), [], []
    start = time.perf_counter()

    def record(step: int) -> None:
        loss, acc = mlm_evaluate(model, val, tokenizer)
        history.steps.append(step)
        history.train.append(sum(recent) / len(recent) if recent else loss)
        history.val.append(loss)
        history.val_accuracy.append(acc)
        history.seconds.append(round(time.perf_counter() - start, 2))
        recent.clear()

    record(0)
    bar = progress_bar(steps, "pretraining", progress)
    model.train()
    for step in range(steps):
        set_lr(optimizer, lr * min((step + 1) / max(warmup_steps, 1), (steps - step) / max(steps - warmup_steps, 1)))
        if not batches:
            batches = _length_batches(train.lengths, batch_size, generator)
        part = train[batches.pop()]
        inputs, labels = _mask_batch(part, tokenizer, generator)
        loss = model.loss(inputs, labels, part.segments, part.lengths)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}: lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        recent.append(loss.item())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            record(step + 1)
            model.train()
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{history.val[-1]:.3f}")
    bar.close()
    model.eval()
    return history


def finetune(model: torch.nn.Module, data: Batch, labels: torch.Tensor, *, steps: int, batch_size: int = 16,
             lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Train a classifier (``(ids, segments, lengths)`` → ``(B, n_classes)``) on labelled rows.

    AdamW at a constant ``lr``; each step takes ``batch_size`` rows of ``data`` at random (all of
    them if there are fewer), with their ``labels (N,)``. Returns the training loss of each step.

    Chapter 09 — BERT, the encoder.
    """
    tensor("labels", labels, f"({len(data)},)", dtype="long")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=positive("lr", lr))
    losses = []
    model.train()
    for _ in range(int_at_least("steps", steps, 0)):
        rows = torch.randperm(len(data), generator=generator)[:batch_size]
        part = data[rows]
        loss = F.cross_entropy(model(part.ids, part.segments, part.lengths), labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: torch.nn.Module, data: Batch, labels: torch.Tensor, *, batch_size: int = 128) -> float:
    """The fraction of rows of ``data`` whose highest-scoring class is ``labels``.

    Chapter 09 — BERT, the encoder.
    """
    right = 0
    with eval_mode(model):
        for start in range(0, len(data), batch_size):
            part = data[slice(start, start + batch_size)]
            guesses = model(part.ids, part.segments, part.lengths).argmax(-1)               # (B,)
            right += int((guesses == labels[start:start + batch_size]).sum())
    return right / len(data)


def train_story_bert(build, training: dict, *, progress: bool = True) -> tuple:
    """Pretrain a story BERT as the zoo's ``bert-stories`` recipe says (called by :mod:`llmcourse.zoo`).

    ``build(vocab_size)`` makes the :class:`~llmcourse.bert.BertForMLM`; ``training`` holds
    ``n_texts`` stories to train on (``seed``), ``val_texts`` held-out ones (seed ``seed + 1``),
    and :func:`pretrain`'s settings.
    The model reads every two consecutive sentences of a story (:func:`sentence_pairs`); the
    vocabulary is :func:`story_tokenizer`'s over the training stories. Returns
    ``(model, tokenizer, info, history)``.

    Chapter 09 — BERT, the encoder.
    """
    import dataclasses

    from llmcourse.data import generate_stories

    stories = generate_stories(training["n_texts"], seed=training["seed"])
    held_out = generate_stories(training["val_texts"], seed=training["seed"] + 1)
    tokenizer = story_tokenizer([s.text for s in stories])
    torch.manual_seed(training["seed"])
    model = build(tokenizer.vocab_size)

    def pairs(group: list) -> Batch:
        return encode_texts(tokenizer, [pair for s in group for pair in sentence_pairs([en for en, _ in s.sentences])],
                            max_len=model.config.max_len)

    start = time.perf_counter()
    history = pretrain(model, pairs(stories), pairs(held_out), tokenizer, steps=training["steps"],
                       batch_size=training["batch_size"], lr=training["lr"], warmup_steps=training["warmup_steps"],
                       weight_decay=training["weight_decay"], grad_clip=training["grad_clip"],
                       eval_every=max(training["steps"] // 10, 1), seed=training["seed"], progress=progress)
    info = dict(training=dict(training), steps=history.steps[-1], seconds=round(time.perf_counter() - start, 1),
                train_loss=history.train[-1], val_loss=history.val[-1], val_accuracy=history.val_accuracy[-1],
                parameters=sum(p.numel() for p in model.parameters()))
    return model, tokenizer, info, dataclasses.asdict(history)
