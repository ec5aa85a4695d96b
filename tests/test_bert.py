"""Chapter 09's BERT: the encoder against torch's own encoder layer, MLM masking statistics, pooling,
story encoding, the exact slot distributions, and all-MiniLM-L6-v2 in our code against the libraries
(tokenizer ids and sentence embeddings)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from llmcourse import bert as B
from llmcourse.bert import minilm
from llmcourse.bert.truth import masked_distribution, slot_distribution, word_spans
from llmcourse.data import generate_stories

SMALL = B.BertConfig(vocab_size=30, max_len=16, n_layers=2, n_heads=2, d_model=16, d_ff=24)


def _random_bert(config: B.BertConfig = SMALL, seed: int = 0) -> B.BERT:
    torch.manual_seed(seed)
    model = B.BERT(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))          # away from the init: LayerNorm gains, biases, all of it
    return model


# -- the encoder --------------------------------------------------------------------------------
def test_config_is_checked():
    with pytest.raises(ValueError, match="divisible"):
        B.BertConfig(vocab_size=10, max_len=8, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="eps"):
        B.BertConfig(vocab_size=10, max_len=8, eps=0.0)
    with pytest.raises(ValueError, match="n_segments"):
        B.BertConfig(vocab_size=10, max_len=8, n_segments=0)
    with pytest.raises(TypeError, match="BertConfig"):
        B.BERT(dict(vocab_size=10))


@pytest.mark.parametrize("fast", [False, True])
def test_the_encoder_equals_torchs_post_ln_encoder_layers(fast):
    """Our BERT = embeddings + LayerNorm, then torch.nn.TransformerEncoderLayer (post-LN, exact GELU,
    eps 1e-12) with the same weights and a key padding mask, at every real position."""
    model = _random_bert(B.BertConfig(**{**SMALL.__dict__, "fast": fast}))
    c = model.config
    layers = []
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, dropout=0.0, activation="gelu",
                                           layer_norm_eps=c.eps, batch_first=True, norm_first=False).eval()
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
            layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
            layer.self_attn.out_proj.weight.copy_(block.attn.proj.weight)
            layer.self_attn.out_proj.bias.copy_(block.attn.proj.bias)
            for ours, theirs in [(block.mlp.fc, layer.linear1), (block.mlp.proj, layer.linear2),
                                 (block.ln1, layer.norm1), (block.ln2, layer.norm2)]:
                theirs.weight.copy_(ours.weight)
                theirs.bias.copy_(ours.bias)
        layers.append(layer)
    ids = torch.randint(0, c.vocab_size, (3, 9), generator=torch.Generator().manual_seed(1))
    segments = (torch.arange(9) >= 4).long().expand(3, 9).contiguous()
    lengths = torch.tensor([9, 5, 7])
    with torch.no_grad():
        ours = model(ids, segments, lengths)
        x = model.emb_ln(model.tok_emb(ids) + model.seg_emb(segments) + model.pos_emb(torch.arange(9)))
        pad = torch.arange(9)[None, :] >= lengths[:, None]
        for layer in layers:
            x = layer(x, src_key_padding_mask=pad)
    real = ~pad
    assert torch.allclose(ours[real], x[real], atol=1e-5), (ours[real] - x[real]).abs().max()


def test_every_position_sees_both_sides_and_none_sees_the_padding():
    model = _random_bert()
    ids = torch.randint(5, 30, (1, 8), generator=torch.Generator().manual_seed(2))
    changed = ids.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 30
    with torch.no_grad():
        a, b = model(ids), model(changed)
        assert not torch.allclose(a[0, 0], b[0, 0]), "no causal mask: the first position sees the last token"
        padded = torch.cat([ids, torch.randint(0, 30, (1, 5))], dim=1)                 # 5 padding tokens
        assert torch.allclose(model(padded, lengths=torch.tensor([8]))[0, :8], a[0], atol=1e-6)
        batch = torch.cat([padded, torch.randint(0, 30, (1, 13))])                     # next to a full row
        assert torch.allclose(model(batch, lengths=torch.tensor([8, 13]))[0, :8], a[0], atol=1e-6)


def test_segments_matter_and_inputs_are_checked():
    model = _random_bert()
    ids = torch.randint(0, 30, (2, 6))
    with torch.no_grad():
        assert not torch.allclose(model(ids), model(ids, torch.ones_like(ids)))
    with pytest.raises(ValueError, match="segments must lie in"):
        model(ids, torch.full_like(ids, 2))
    with pytest.raises(ValueError, match="max_len=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="ids must lie in"):
        model(torch.full((1, 3), 30))
    with pytest.raises(ValueError, match="lengths must lie in"):
        model(ids, lengths=torch.tensor([7, 2]))


def test_pooling_ignores_padding():
    h = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 0])
    pooled = B.mean_pool(h, lengths)
    assert torch.allclose(pooled[0], h[0].mean(0)) and torch.allclose(pooled[1], h[1, :2].mean(0))
    assert torch.equal(pooled[2], torch.zeros(4)), "a row without tokens pools to zeros, not NaN"
    assert torch.allclose(B.mean_pool(h), h.mean(1)) and torch.equal(B.cls_pool(h), h[:, 0])


def test_mlm_head_is_tied_and_the_loss_reads_only_chosen_positions():
    model = B.BertForMLM(SMALL)
    assert model.head.decoder.weight is model.bert.tok_emb.weight
    ids = torch.randint(5, 30, (2, 7))
    labels = torch.full_like(ids, B.IGNORE)
    labels[0, 3], labels[1, 1] = 7, 9
    logits = model(ids)
    want = torch.nn.functional.cross_entropy(torch.stack([logits[0, 3], logits[1, 1]]), torch.tensor([7, 9]))
    assert torch.allclose(model.loss(ids, labels), want, atol=1e-6)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_classifier_shapes_and_gradients_reach_the_encoder(pooling):
    clf = B.BertClassifier(B.BERT(SMALL), 3, pooling=pooling)
    out = clf(torch.randint(0, 30, (4, 6)), lengths=torch.tensor([6, 3, 2, 5]))
    assert out.shape == (4, 3)
    out.sum().backward()
    assert clf.bert.tok_emb.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pooling"):
        B.BertClassifier(B.BERT(SMALL), 3, pooling="max")


# -- masked-language-model data ------------------------------------------------------------------
def _masked(p=0.15, seed=0, rows=400, length=60):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 50, (rows, length), generator=g)
    ids[:, 0], lengths = 2, torch.randint(10, length + 1, (rows,), generator=g)
    ids[torch.arange(rows), lengths - 1] = 3
    ids[torch.arange(length)[None, :] >= lengths[:, None]] = 0
    inputs, labels = B.mask_tokens(ids, mask_id=4, special_ids=range(5), vocab_size=50, lengths=lengths, p=p,
                                   generator=torch.Generator().manual_seed(seed))
    return ids, lengths, inputs, labels


def test_masking_chooses_15_percent_of_real_tokens_then_80_10_10():
    ids, lengths, inputs, labels = _masked()
    chosen = labels != B.IGNORE
    real = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]) & (ids > 4)
    assert not (chosen & ~real).any(), "padding and special tokens are never chosen"
    rate = chosen.sum() / real.sum()
    assert abs(rate - 0.15) < 0.01, rate
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])
    n = int(chosen.sum())
    masked = (inputs[chosen] == 4).sum() / n
    same = (inputs[chosen] == ids[chosen]).sum() / n
    other = 1 - masked - same
    assert abs(masked - 0.8) < 0.02 and abs(same - (0.1 + 0.1 / 45)) < 0.015 and abs(other - 0.1 * 44 / 45) < 0.015
    random_ids = inputs[chosen & (inputs != 4) & (inputs != ids)]
    assert random_ids.min() >= 5 and len(random_ids.unique()) >= 40, "random tokens: ordinary ids, never special"


def test_masking_is_seeded_and_follows_p():
    assert all(torch.equal(a, b) for a, b in zip(_masked(seed=3), _masked(seed=3)))
    assert not torch.equal(_masked(seed=3)[2], _masked(seed=4)[2])
    ids, lengths, inputs, labels = _masked(p=0.0)
    assert torch.equal(inputs, ids) and (labels == B.IGNORE).all()
    ids, lengths, inputs, labels = _masked(p=1.0)
    assert torch.equal(labels != B.IGNORE, (torch.arange(ids.shape[1])[None, :] < lengths[:, None]) & (ids > 4))
    with pytest.raises(ValueError, match="probability"):
        B.mask_tokens(ids, mask_id=4, special_ids=[0], vocab_size=50, p=1.5)


# -- stories as BERT reads them -------------------------------------------------------------------
def test_story_tokenizer_and_encoding():
    stories = generate_stories(30, seed=0)
    tok = B.story_tokenizer([s.text for s in stories])
    assert [tok.ids_to_tokens[i] for i in range(5)] == list(B.SPECIALS) and not tok.lowercase
    pairs = B.sentence_pairs([en for en, _ in stories[0].sentences])
    assert len(pairs) == len(stories[0].sentences) - 1
    assert " ".join([pairs[0][0]] + [b for _, b in pairs]) == stories[0].text
    batch = B.encode_texts(tok, pairs[:3] + [stories[1].text], max_len=256)
    for row, (a, b) in enumerate(pairs[:3]):
        n = int(batch.lengths[row])
        ids, segs = batch.ids[row, :n].tolist(), batch.segments[row, :n].tolist()
        first = tok.encode(a, add_special_tokens=False)
        assert ids == [2, *first, 3, *tok.encode(b, add_special_tokens=False), 3]
        assert segs == [0] * (len(first) + 2) + [1] * (n - len(first) - 2)
        assert (batch.ids[row, n:] == 0).all()
    single = batch.ids[3, :batch.lengths[3]].tolist()
    assert single == tok.encode(stories[1].text) and (batch.segments[3] == 0).all()
    cut = B.encode_texts(tok, [s.text for s in stories[:2]], max_len=20)
    assert cut.ids.shape == (2, 20) and (cut.ids[:, -1] == 3).all()
    part = batch[torch.tensor([1, 2])]
    assert part.ids.shape[1] == int(batch.lengths[1:3].max()) and torch.equal(part.lengths, batch.lengths[1:3])


def test_slot_distribution_is_the_generators_posterior():
    story = generate_stories(1, seed=0)[0].text
    tok = B.story_tokenizer([s.text for s in generate_stories(300, seed=0)])
    spans = word_spans(tok, story)
    assert [story[a:b] for a, b in spans] == tok.basic_tokenize(story)
    words = [w for w in tok.vocab if w not in B.SPECIALS]
    hero = generate_stories(1, seed=0)[0].labels["hero"]
    later = [s for s in spans if story[s[0]:s[1]] == hero][2]          # a later mention of the hero
    truth = slot_distribution(story, later, words)
    assert math.isclose(sum(truth.values()), 1.0) and hero in truth and truth[hero] > 0.1
    assert all(p > 0 for p in truth.values())
    bert = B.BertForMLM(B.BertConfig(tok.vocab_size, 256, n_layers=1, n_heads=2, d_model=16))
    q = masked_distribution(bert, tok, ("Once upon a time.", story[:later[0]] + "[MASK]" + story[later[1]:]))
    assert q.shape == (tok.vocab_size,) and math.isclose(float(q.sum()), 1.0, rel_tol=1e-5)
    with pytest.raises(ValueError, match="one \\[MASK\\]"):
        masked_distribution(bert, tok, story)
    with pytest.raises(ValueError, match="cannot write"):
        slot_distribution(story + " Extra.", later, words)


def test_pretraining_and_fine_tuning_run_and_learn():
    stories = generate_stories(64, seed=0)
    tok = B.story_tokenizer([s.text for s in stories])
    data = B.encode_texts(tok, [s.text for s in stories], max_len=256)          # whole stories, one segment
    torch.manual_seed(0)
    model = B.BertForMLM(B.BertConfig(tok.vocab_size, 256, n_layers=1, n_heads=2, d_model=16, fast=True))
    history = B.pretrain(model, data, data[torch.arange(8)], tok, steps=30, batch_size=8, lr=1e-2,
                         warmup_steps=5, eval_every=10, progress=False)
    assert history.steps == [0, 10, 20, 30] and history.val[-1] < history.val[0] - 1.0
    labels = torch.tensor([s.labels["mood"] == "happy" for s in stories]).long()
    clf = B.BertClassifier(model.bert, 2, pooling="mean")
    losses = B.finetune(clf, data, labels, steps=20, batch_size=16, lr=3e-3)
    assert len(losses) == 20 and not clf.training and 0.0 <= B.accuracy(clf, data, labels) <= 1.0


# -- all-MiniLM-L6-v2 in our code -----------------------------------------------------------------
TEXTS = [
    "A man is eating food.", "Someone is eating a piece of bread.", "The cat sat on the mat!",
    "Café, naïve résumé — déjà vu?", "Ünïcödé ÀÉÎÕÜ façade, jalapeño & coöperate",
    "Hello,world...(really?!)", "don't STOP: it's 3.14 or $5 #tags @people", "안녕하세요, 세계! 한국어 문장입니다.",
    "日本語と中文の文字", "",
    "   spaces\tand\nnewlines   ", "emoji 🙂 and symbols ½ ™ ©", "supercalifragilisticexpialidocious " * 3,
    "word " * 300, "A long sentence about transformers. " * 40,
]


@pytest.fixture(scope="module")
def ours():
    return minilm.load_minilm()


@pytest.fixture(scope="module")
def library():
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(minilm.minilm_files(verify=False)), device="cpu")


def test_our_wordpiece_gives_the_library_tokenizers_ids(ours, library):
    _, tok = ours
    ids, lengths = minilm.encode_sentences(tok, TEXTS)
    assert library.max_seq_length == minilm.MAX_TOKENS
    for row, text in enumerate(TEXTS):
        theirs = library.tokenizer(text, truncation=True, max_length=library.max_seq_length)["input_ids"]
        assert ids[row, :lengths[row]].tolist() == theirs, text
    assert lengths.max() == 256 and (ids[lengths < ids.shape[1]][:, -1] == 0).all()


def test_our_bert_gives_sentence_transformers_embeddings(ours, library):
    bert, tok = ours
    mine = minilm.sentence_embeddings(bert, tok, TEXTS, batch_size=4)
    with torch.no_grad():
        theirs = library.encode(TEXTS, convert_to_tensor=True, batch_size=4)
    assert mine.shape == theirs.shape == (len(TEXTS), 384)
    assert (mine - theirs).abs().max() <= 1e-5
    assert torch.allclose(mine.norm(dim=-1), torch.ones(len(TEXTS)))
    similar = mine[0] @ mine[1]
    assert similar > mine[0] @ mine[2] + 0.3, "two sentences about eating are closer than one about a cat"


def test_the_weights_file_and_package_version_are_checked(monkeypatch):
    monkeypatch.setattr(minilm, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="SHA-256 .* not the 0000"):
        minilm.minilm_files()
    assert minilm.minilm_files(verify=False).is_dir()
    monkeypatch.setattr(minilm, "PACKAGE_VERSION", "9.9.9")
    with pytest.raises(RuntimeError, match="checked version 9.9.9 only"):
        minilm.minilm_files(verify=False)


def test_the_conversion_stacks_q_k_v_and_leaves_nothing_out():
    model = _random_bert()
    state = model.state_dict()
    C = model.config.d_model
    hf = {"embeddings.word_embeddings.weight": state["tok_emb.weight"],
          "embeddings.token_type_embeddings.weight": state["seg_emb.weight"],
          "embeddings.position_embeddings.weight": state["pos_emb.weight"],
          "embeddings.position_ids": torch.arange(16)[None],
          "embeddings.LayerNorm.weight": state["emb_ln.weight"], "embeddings.LayerNorm.bias": state["emb_ln.bias"],
          "pooler.dense.weight": state["pooler.weight"], "pooler.dense.bias": state["pooler.bias"]}
    for i in range(model.config.n_layers):
        names = {"attention.output.dense": "attn.proj", "attention.output.LayerNorm": "ln1",
                 "intermediate.dense": "mlp.fc", "output.dense": "mlp.proj", "output.LayerNorm": "ln2"}
        for kind in ("weight", "bias"):
            for theirs, mine in names.items():
                hf[f"bert.encoder.layer.{i}.{theirs}.{kind}"] = state[f"blocks.{i}.{mine}.{kind}"]
            q, k, v = state[f"blocks.{i}.attn.qkv.{kind}"].split(C)
            for part, t in zip(("query", "key", "value"), (q, k, v)):
                hf[f"encoder.layer.{i}.attention.self.{part}.{kind}"] = t
    converted = minilm.minilm_state_dict(hf, model.config.n_layers)
    assert converted.keys() == state.keys() and all(torch.equal(converted[k], state[k]) for k in state)
    with pytest.raises(ValueError, match="does not know"):
        minilm.minilm_state_dict({**hf, "cls.predictions.bias": torch.zeros(3)}, model.config.n_layers)


def test_the_module_docstrings_name_the_chapter():
    import llmcourse.bert.minilm
    import llmcourse.bert.model
    import llmcourse.bert.pretraining
    import llmcourse.bert.truth
    for module in (B, llmcourse.bert.model, llmcourse.bert.pretraining, llmcourse.bert.minilm, llmcourse.bert.truth):
        assert re.search(r"\(Chapter 09 — BERT, the encoder\)\.$", module.__doc__.splitlines()[0]), module
