"""Tests of the encoder–decoder (llmcourse.encoder_decoder, Chapter 10): torch's attention as the
oracle for cross-attention, masks checked by perturbation, decoding through Chapter 08's loop."""

from __future__ import annotations

import pytest
import sacrebleu
import torch
from torch import nn

from llmcourse import decoding
from llmcourse import encoder_decoder as ed

torch.set_num_threads(1)


def _model(**kwargs) -> ed.EncoderDecoder:
    torch.manual_seed(0)
    return ed.EncoderDecoder(ed.Seq2SeqConfig(src_vocab=11, tgt_vocab=13, d_model=16, n_heads=2, **kwargs)).eval()


def test_shift_right_prepends_bos_and_drops_the_last_token():
    targets = torch.tensor([[5, 6, 7, 2], [8, 2, 0, 0]])
    assert ed.shift_right(targets, bos_id=1).tolist() == [[1, 5, 6, 7], [1, 8, 2, 0]]
    assert targets.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0]]                    # not modified
    with pytest.raises(ValueError, match="targets"):
        ed.shift_right(torch.tensor([1.0, 2.0]), bos_id=1)


@pytest.mark.parametrize("fast", [False, True])
def test_cross_attention_equals_torch_multihead_attention(fast):
    torch.manual_seed(1)
    C, H = 16, 4
    ours = ed.CrossAttention(C, H, fast=fast)
    theirs = nn.MultiheadAttention(C, H, batch_first=True)
    with torch.no_grad():                       # torch stacks W_q, W_k, W_v; ours has q and kv
        theirs.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.kv.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.kv.bias]))
        theirs.out_proj.weight.copy_(ours.proj.weight)
        theirs.out_proj.bias.copy_(ours.proj.bias)
    x, memory = torch.randn(3, 5, C), torch.randn(3, 7, C)
    keep = torch.arange(7)[None, :] < torch.tensor([7, 4, 1])[:, None]         # (B, S) real source tokens
    got = ours(x, memory, keep[:, None, None, :])
    want, want_w = theirs(x, memory, memory, key_padding_mask=~keep, average_attn_weights=False)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    _, weights = ours(x, memory, keep[:, None, None, :], return_weights=True)
    torch.testing.assert_close(weights, want_w, atol=1e-5, rtol=1e-5)
    assert (weights[1, :, :, 4:] == 0).all() and (weights[2, :, :, 1:] == 0).all()


def test_cross_attention_reads_keys_and_values_from_the_memory():
    attn = ed.CrossAttention(8, 2).eval()
    x, memory = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    out = attn(x, memory)
    assert out.shape == (1, 3, 8)
    assert not torch.allclose(attn(x, memory + 1.0), out)                       # the memory matters
    x2 = x.clone()
    x2[0, 2] += 1.0
    torch.testing.assert_close(attn(x2, memory)[0, :2], out[0, :2])             # each query on its own
    with pytest.raises(ValueError, match="memory"):
        attn(x, torch.randn(1, 5, 4))


def test_decoder_is_causal_and_the_source_padding_is_hidden():
    model = _model()
    src = torch.tensor([[4, 5, 6, 2, 0, 0], [7, 8, 9, 10, 5, 2]])
    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 9, 3]])
    logits = model(src, tgt)
    changed = tgt.clone()
    changed[:, 2] = 11
    torch.testing.assert_close(model(src, changed)[:, :2], logits[:, :2])      # positions < 2 do not see it
    assert not torch.allclose(model(src, changed)[:, 2], logits[:, 2])
    alone = model(src[:1, :4], tgt[:1])                                         # row 0 without its padding
    torch.testing.assert_close(alone, logits[:1], atol=1e-5, rtol=1e-5)


def test_fast_path_equals_the_readable_one():
    slow, fast = _model(), _model(fast=True)
    fast.load_state_dict(slow.state_dict())
    src = torch.tensor([[4, 5, 6, 2, 0], [7, 8, 9, 10, 2]])
    tgt = torch.tensor([[1, 5, 6], [1, 8, 9]])
    torch.testing.assert_close(fast(src, tgt), slow(src, tgt), atol=1e-5, rtol=1e-5)


def test_cached_decoding_equals_uncached():
    model = _model()
    src = torch.tensor([[4, 5, 6, 2, 0], [7, 8, 9, 10, 2]])
    tgt = torch.tensor([[1, 5, 6, 7, 8], [1, 8, 9, 3, 4]])
    memory, mask = model.encode(src)
    full = model.decode(tgt, memory, mask)
    caches = model.new_caches()
    steps = [model.decode(tgt[:, :2], memory, mask, caches=caches)]
    steps += [model.decode(tgt[:, t:t + 1], memory, mask, caches=caches) for t in range(2, 5)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    wrapped = ed.Conditioned(model, src)
    cached = decoding.generate(wrapped, tgt[:, :1], 8, temperature=0, use_cache=True)
    assert torch.equal(cached, decoding.generate(wrapped, tgt[:, :1], 8, temperature=0, use_cache=False))


def test_return_weights_gives_each_layers_cross_attention():
    model = _model(n_layers=3)
    src, tgt = torch.tensor([[4, 5, 2, 0]]), torch.tensor([[1, 5, 6]])
    logits, weights = model.decode(tgt, *model.encode(src), return_weights=True)
    torch.testing.assert_close(logits, model(src, tgt))
    assert len(weights) == 3 and weights[0].shape == (1, 2, 3, 4)
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(1, 2, 3))
    assert (weights[0][..., 3] == 0).all()


def test_rnn_encoder_skips_padding_and_can_read_backwards():
    torch.manual_seed(0)
    for reverse in (False, True):
        rnn = ed.RNNSeq2Seq(11, 13, d_embed=8, d_hidden=12, n_layers=2, reverse_source=reverse).eval()
        src = torch.tensor([[4, 5, 6, 2, 0, 0], [7, 8, 9, 10, 5, 2]])
        memory, mask = rnn.encode(src)
        assert mask is None and memory.shape == (2, 2, 12)
        torch.testing.assert_close(rnn.encode(src[:1, :4])[0], memory[:1])    # padding changes nothing
    forward_rnn = ed.RNNSeq2Seq(11, 13, d_embed=8, d_hidden=12).eval()
    backward_rnn = ed.RNNSeq2Seq(11, 13, d_embed=8, d_hidden=12, reverse_source=True).eval()
    backward_rnn.load_state_dict(forward_rnn.state_dict())
    src = torch.tensor([[4, 5, 6, 2, 0]])
    torch.testing.assert_close(backward_rnn.encode(src)[0], forward_rnn.encode(torch.tensor([[2, 6, 5, 4]]))[0])


def test_rnn_decoder_gets_nothing_but_the_final_state():
    torch.manual_seed(0)
    rnn = ed.RNNSeq2Seq(11, 13, d_embed=8, d_hidden=12).eval()
    a, b = torch.tensor([[4, 5, 6, 2]]), torch.tensor([[7, 8, 9, 2]])
    tgt = torch.tensor([[1, 5, 6]])
    memory = rnn.encode(a)[0]
    torch.testing.assert_close(rnn.decode(tgt, memory), rnn(a, tgt))
    assert not torch.allclose(rnn(a, tgt), rnn(b, tgt))
    caches = rnn.new_caches()
    steps = torch.cat([rnn.decode(tgt[:, t:t + 1], memory, caches=caches) for t in range(3)], dim=1)
    torch.testing.assert_close(steps, rnn(a, tgt), atol=1e-5, rtol=1e-5)


class _Scripted(nn.Module):
    """A fake seq2seq model: row b of the source is the list of tokens it translates to (then <eos>)."""

    max_context = None

    def encode(self, src):
        return src.float()[:, :, None], None

    def decode(self, ids, memory, memory_mask=None, *, caches=None):
        script = memory[:, :, 0].long()                                     # (B, S)
        step = torch.arange(ids.shape[1])                                   # position t writes script[t]
        nxt = script.gather(1, step.clamp(max=script.shape[1] - 1).expand(ids.shape[0], -1))
        return 10.0 * nn.functional.one_hot(nxt, 9).float()

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, *self.encode(src))


def test_translate_stops_each_row_at_eos():
    src = torch.tensor([[5, 6, 2, 0], [7, 2, 0, 0], [3, 4, 5, 6]])         # the last one never ends
    assert ed.translate(_Scripted(), src, max_len=6) == [[5, 6], [7], [3, 4, 5, 6, 6, 6]]
    beams = ed.translate(_Scripted(), src, max_len=6, beam_width=3)
    assert beams[:2] == [[5, 6], [7]]


def test_a_tiny_model_learns_to_reverse_and_both_decoders_agree():
    """End to end: train on reversing 3 to 6 tokens, then greedy and beam translations are exact."""
    g = torch.Generator().manual_seed(0)
    n = 2000
    lengths = torch.randint(3, 7, (n,), generator=g)
    words = torch.randint(3, 11, (n, 6), generator=g)
    src = torch.zeros(n, 7, dtype=torch.long)
    tgt = torch.zeros(n, 7, dtype=torch.long)
    for i, L in enumerate(lengths.tolist()):
        src[i, :L], src[i, L] = words[i, :L], 2
        tgt[i, :L], tgt[i, L] = words[i, :L].flip(0), 2
    torch.manual_seed(0)
    model = ed.EncoderDecoder(ed.Seq2SeqConfig(11, 11, d_model=32, n_heads=2, n_layers=1, fast=True))
    losses = ed.train_seq2seq(model, src, tgt, steps=300, batch_size=64, lr=1e-2, warmup_steps=30, progress=False)
    assert losses[-1] < 0.1 < losses[0]
    assert not model.training
    test = slice(0, 40)
    want = [row[:L].tolist() for row, L in zip(tgt[test], lengths[test].tolist())]
    greedy = ed.translate(model, src[test])
    assert sum(g == w for g, w in zip(greedy, want)) >= 36
    assert ed.translate(model, src[:8], beam_width=3) == greedy[:8]


def test_score_translations_matches_sacrebleu():
    hyps = ["미나는 돌을 주웠어요.", "준은 배를 먹었어요.", "그때 소연은 공을 찾았어요."]
    refs = ["미나는 돌을 주웠어요.", "준은 사과를 먹었어요.", "그때 소연은 공을 찾았어요."]
    scores = ed.score_translations(hyps, refs)
    assert scores.n == 3 and scores.exact_match == pytest.approx(2 / 3)
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score)
    assert scores.chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert 0 < scores.bleu < 100 and 0 < scores.chrf < 100
    with pytest.raises(ValueError, match="as many"):
        ed.score_translations(hyps, refs[:2])


def test_bad_configurations_and_inputs():
    with pytest.raises(ValueError, match="n_heads"):
        ed.Seq2SeqConfig(10, 10, d_model=30, n_heads=4)
    with pytest.raises(TypeError, match="Seq2SeqConfig"):
        ed.EncoderDecoder({"src_vocab": 10})
    model = _model(max_len=8)
    with pytest.raises(ValueError, match="src"):
        model(torch.tensor([[4, 5, 99]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.tensor([[4, 5]]), torch.ones(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len"):
        ed.translate(model, torch.tensor([[4, 5]]), max_len=8)
    with pytest.raises(ValueError, match="src and tgt"):
        ed.train_seq2seq(model, torch.ones(3, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.long), steps=1)


def test_decoder_block_equals_torch_transformer_decoder_layer():
    torch.manual_seed(2)
    theirs = nn.TransformerDecoderLayer(16, 4, 48, dropout=0.0, activation="gelu", batch_first=True,
                                        norm_first=True).eval()
    ours = ed.DecoderBlock(16, 4, 48).load_torch(theirs).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    keep = torch.arange(6)[None, :] < torch.tensor([6, 3])[:, None]
    want = theirs(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5), tgt_is_causal=True,
                  memory_key_padding_mask=~keep)
    torch.testing.assert_close(ours(x, memory, keep[:, None, None, :]), want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="norm_first"):
        ours.load_torch(nn.TransformerDecoderLayer(16, 4, 48, batch_first=True))
