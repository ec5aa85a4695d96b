"""Tests of llmcourse.finetune (Chapter 11 — Fine-tuning and transfer learning): each checks the
promise of one function against an independent computation, on tiny models."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from llmcourse.data import world
from llmcourse.finetune import (END, IGNORE, WORLD_CHARACTERS, Example, answer_accuracy, answer_loss,
                                closed_book_examples, encode_examples, exact_match, extend_vocabulary, finetune,
                                finetune_step, freeze, generate_answers, mean_answer_loss, reading_examples,
                                reading_prompt, story_loss, train_reader, trainable_parameters)
from llmcourse.gpt import GPT, GPTConfig, configure_optimizer
from llmcourse.tokenization import CharTokenizer
from llmcourse.training import evaluate


@pytest.fixture(scope="module")
def small_world():
    return world(seed=3, n_people=12, n_towns=3, n_shops=4)


def _gpt(vocab_size: int, block_size: int = 32, seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layers=2, n_heads=2, d_model=16, **kw))


# --- the task as text ---------------------------------------------------------------------------------------------
def test_reading_examples_hold_the_gold_sentence_and_fit_the_context(small_world):
    for distractors in (0, 1, 2):
        examples = reading_examples(small_world, distractors=distractors, max_chars=128)
        assert len(examples) > 0.9 * len(small_world.qa)
        for e, q in zip(examples, [q for q in small_world.qa if q.id in {e.id for e in examples}]):
            assert e.id == q.id and e.answer == q.answer
            sentences = small_world.document(q.doc_id).sentences
            question_line, passage, last = e.prompt.split("\n")
            assert question_line == f"Q: {q.question}" and last == "A: "
            assert sentences[q.sentence] in passage and q.answer in passage
            used = [s for s in sentences if s in passage]
            assert 1 <= len(used) <= 1 + distractors
            assert passage == " ".join(s for s in sentences if s in used)     # document order
            assert len(e.text) <= 128
    assert reading_examples(small_world, distractors=1) == reading_examples(small_world, distractors=1)


def test_reading_examples_leave_out_what_does_not_fit(small_world):
    tight = reading_examples(small_world, max_chars=70, distractors=0)
    assert all(len(e.text) <= 70 for e in tight)
    fitting = [q for q in small_world.qa
               if len(reading_prompt(small_world.document(q.doc_id).sentences[q.sentence], q.question)
                      + q.answer + END) <= 70]
    assert [e.id for e in tight] == [q.id for q in fitting]


def test_closed_book_examples_have_no_passage(small_world):
    e = closed_book_examples(small_world.qa[:1])[0]
    assert e.prompt == f"Q: {small_world.qa[0].question}\nA: " and e.text.endswith(small_world.qa[0].answer + "\n")


# --- new characters -----------------------------------------------------------------------------------------------
def test_extend_vocabulary_keeps_every_old_row_and_every_old_logit():
    old_tok = CharTokenizer("abcxyz .")
    model = _gpt(old_tok.vocab_size)
    bigger, tok = extend_vocabulary(model, old_tok, "Zab09")
    assert tok.itos == sorted(set(old_tok.itos) | set("Z09"))
    assert bigger.lm_head.weight is bigger.tok_emb.weight                        # still tied
    for c in old_tok.itos:
        assert torch.equal(bigger.tok_emb.weight[tok.stoi[c]], model.tok_emb.weight[old_tok.stoi[c]])
    new_rows = bigger.tok_emb.weight[[tok.stoi[c] for c in "Z09"]].detach()
    assert len({tuple(r.tolist()) for r in new_rows}) == 3                       # three distinct rows
    z = (new_rows - model.tok_emb.weight.mean(0)) / model.tok_emb.weight.std(0)
    assert z.abs().max() < 5                                                      # typical of the old rows
    again, _ = extend_vocabulary(model, old_tok, "Zab09")
    other, _ = extend_vocabulary(model, old_tok, "Zab09", seed=1)
    assert torch.equal(again.tok_emb.weight, bigger.tok_emb.weight)               # seeded
    assert not torch.equal(other.tok_emb.weight, bigger.tok_emb.weight)
    text = "abc xyz.ab"
    with torch.no_grad():
        old_logits = model(torch.tensor([old_tok.encode(text)]))
        new_logits = bigger(torch.tensor([tok.encode(text)]))
    columns = [tok.stoi[c] for c in old_tok.itos]
    assert torch.allclose(new_logits[..., columns], old_logits, atol=1e-6)
    assert model.config.vocab_size == old_tok.vocab_size                          # the original is untouched


def test_extend_vocabulary_refuses_a_tokenizer_of_another_size():
    with pytest.raises(ValueError, match="must be the model's"):
        extend_vocabulary(_gpt(5), CharTokenizer("abc"), "d")


# --- answer-only loss ---------------------------------------------------------------------------------------------
def test_encode_examples_labels_only_the_answer_and_its_end():
    tok = CharTokenizer("abcdQ:\n ")
    examples = [Example("1", "Q: ab\n", "cd"), Example("2", "Q:\n", "a")]
    ids, labels = encode_examples(examples, tok, pad_id=tok.stoi["a"])
    assert ids.shape == labels.shape == (2, 9)
    assert tok.decode(ids[0].tolist()) == "Q: ab\ncd\n" and tok.decode(ids[1].tolist()) == "Q:\na\naaaa"
    assert labels[0].tolist() == [IGNORE] * 6 + tok.encode("cd\n")
    assert labels[1].tolist() == [IGNORE] * 3 + tok.encode("a\n") + [IGNORE] * 4   # padding 'a' not learned


def test_answer_loss_is_the_shifted_cross_entropy_of_the_labelled_tokens_only():
    torch.manual_seed(1)
    logits, ids = torch.randn(3, 7, 5), torch.randint(0, 5, (3, 7))
    labels = torch.full_like(ids, IGNORE)
    labels[0, 4:] = ids[0, 4:]
    labels[1, 2:4] = ids[1, 2:4]
    picked = [(b, t) for b in range(3) for t in range(1, 7) if labels[b, t] != IGNORE]
    want = torch.stack([F.cross_entropy(logits[b, t - 1], ids[b, t]) for b, t in picked]).mean()
    assert torch.allclose(answer_loss(logits, labels), want)
    moved = logits.clone()
    moved[0, :3] += 10 * torch.randn(3, 5)          # the prompt's predictions do not count
    assert torch.allclose(answer_loss(moved, labels), want)
    with pytest.raises(ValueError, match="no label"):
        answer_loss(logits, torch.full_like(ids, IGNORE))


# --- freezing -----------------------------------------------------------------------------------------------------
def test_freeze_stops_gradients_and_updates_even_with_weight_decay():
    model = _gpt(9)
    names = freeze(model, ["tok_emb", "blocks.0."])
    assert names[0] == "tok_emb.weight" and all(n.startswith(("tok_emb", "blocks.0.")) for n in names)
    assert not model.lm_head.weight.requires_grad                             # the tied head with it
    assert trainable_parameters(model) == sum(p.numel() for n, p in model.named_parameters() if n not in names)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    optimizer = configure_optimizer(model, lr=0.1, weight_decay=0.5)
    ids = torch.randint(0, 9, (2, 12))
    labels = ids.clone()
    finetune_step(model, optimizer, ids, labels)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in names)
    assert model.pos_emb.weight.grad is not None
    with pytest.raises(ValueError, match="list of name prefixes"):
        freeze(model, "blocks")


# --- the step and the loop ----------------------------------------------------------------------------------------
def test_finetune_step_clears_old_gradients_clips_and_returns_the_loss_before_the_update():
    model = _gpt(7)
    reference = copy.deepcopy(model)
    ids = torch.randint(0, 7, (3, 10))
    labels = torch.where(torch.arange(10) >= 6, ids, torch.full_like(ids, IGNORE))
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)                                       # left over from elsewhere
    loss = finetune_step(model, torch.optim.SGD(model.parameters(), lr=0.3), ids, labels, grad_clip=0.01)
    want = answer_loss(reference(ids), labels)
    want.backward()
    torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.01)
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.3 * p.grad
    assert isinstance(loss, float) and abs(loss - want.item()) < 1e-6
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), reference.parameters()))


def test_finetune_learns_a_tiny_task_and_is_deterministic():
    tok = CharTokenizer("abcdefgh\n")
    examples = [Example(str(i), p, a) for i, (p, a) in enumerate([("ab", "cd"), ("ba", "ef"), ("hh", "gg"),
                                                                  ("ga", "hb")])]

    def run():
        model = _gpt(tok.vocab_size, seed=4)
        history = finetune(model, tok, examples, steps=60, batch_size=2, lr=1e-2, progress=False)
        return model, history

    (model, history), (again, history2) = run(), run()
    assert history.loss == history2.loss and len(history.loss) == 60                 # seeded: the same run twice
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert sum(history.loss[-5:]) / 5 < 0.2 * sum(history.loss[:5]) / 5
    assert exact_match(model, tok, examples) == 1.0
    assert generate_answers(model, tok, ["ba", "ab", "ga"]) == ["ef", "cd", "hb"]
    assert mean_answer_loss(model, tok, examples) < 0.25 * mean_answer_loss(_gpt(tok.vocab_size, seed=4), tok, examples)
    assert answer_accuracy(model, tok, examples) == 1.0
    assert len(history.smoothed(4)) == 60 and history.seconds > 0 and history.cpu_seconds > 0


def test_finetune_follows_its_curriculum_with_one_schedule(monkeypatch):
    from llmcourse.finetune import training

    tok = CharTokenizer("abcdefgh\n")
    easy = [Example(f"e{i}", "a" * (1 + i % 3), "b") for i in range(5)]
    hard = [Example(f"h{i}", "cd" * (1 + i % 4), "ef") for i in range(7)]
    seen, rates = [], []
    real_encode, real_step = training.encode_examples, training.finetune_step

    def encode(batch, tokenizer):
        seen.append({e.id[0] for e in batch})
        return real_encode(batch, tokenizer)

    def step(model, optimizer, ids, labels, **kw):
        rates.append(optimizer.param_groups[0]["lr"])
        return real_step(model, optimizer, ids, labels, **kw)

    monkeypatch.setattr(training, "encode_examples", encode)
    monkeypatch.setattr(training, "finetune_step", step)
    history = finetune(_gpt(tok.vocab_size), tok, hard, steps=20, batch_size=3, lr=1e-2, curriculum=[(easy, 8)],
                       progress=False)
    assert len(history.loss) == 20 and seen == [{"e"}] * 8 + [{"h"}] * 12       # the easy phase first
    peak = rates.index(max(rates))
    assert peak == 2 and all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))  # one warmup, one decay
    with pytest.raises(ValueError, match="more than steps"):
        finetune(_gpt(tok.vocab_size), tok, hard, steps=5, curriculum=[(easy, 6)], progress=False)
    with pytest.raises(ValueError, match="every phase"):
        finetune(_gpt(tok.vocab_size), tok, hard, steps=5, curriculum=[([], 2)], progress=False)


def test_sorted_batches_hold_examples_of_similar_length_and_cover_each_epoch():
    import random

    from llmcourse.finetune.training import _batches

    draw = random.Random(0)
    lengths = [draw.randint(10, 100) for _ in range(64)]
    batches = _batches(lengths, 4, 4, random.Random(1))
    epoch = [next(batches) for _ in range(16)]
    assert sorted(i for b in epoch for i in b) == list(range(64))                # without replacement
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch) / 16
    plain = _batches(lengths, 4, 0, random.Random(1))
    spread_plain = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in (next(plain) for _ in range(16)))
    assert spread < 0.5 * spread_plain / 16                                      # less padding in a batch
    assert next(_batches([5, 6, 7], 4, 2, random.Random(0))) != []               # fewer than a batch: one batch


def test_finetune_refuses_a_fully_frozen_model():
    tok = CharTokenizer("ab\n")
    model = _gpt(tok.vocab_size)
    freeze(model, [""])
    with pytest.raises(ValueError, match="frozen"):
        finetune(model, tok, [Example("x", "a", "b")], steps=1, progress=False)


def test_generate_answers_groups_prompts_of_one_length_and_keeps_their_order():
    tok = CharTokenizer("abcd\n")

    class Next(torch.nn.Module):          # writes the next letter after the last one, then ends: 'c' -> 'd\n'
        max_context = None

        def forward(self, ids):
            nxt = torch.where(ids == tok.stoi["d"], tok.stoi["\n"], ids + 1)
            return 10.0 * F.one_hot(nxt, tok.vocab_size).float()

    prompts = ["ab", "c", "aaa", "b", "cb"]
    assert generate_answers(Next(), tok, prompts, batch_size=1) == ["cd", "d", "bcd", "cd", "cd"]
    assert generate_answers(Next(), tok, prompts, max_new_tokens=1) == ["c", "d", "b", "c", "c"]
    assert exact_match(Next(), tok, [Example("x", "ab", "cd"), Example("y", "b", "d")]) == 0.5


def test_story_loss_is_chapter_02s_evaluate_over_the_models_context():
    tok = CharTokenizer("abc \n")
    model = _gpt(tok.vocab_size, block_size=16)
    text = "abc cab bca " * 20
    want = evaluate(model, torch.tensor(tok.encode(text)), batch_size=4, block_size=16, n_batches=3, seed=2)
    assert story_loss(model, tok, text, n_batches=3, batch_size=4, seed=2) == want


def test_train_reader_on_a_tiny_recipe(monkeypatch, tmp_path):
    from llmcourse import zoo

    from llmcourse.data import corpus_text

    tok = CharTokenizer(corpus_text(5, seed=1))                # the stories' characters, as gpt-stories has
    base = zoo.Pretrained("gpt-stories", _gpt(tok.vocab_size, block_size=128), tok, {}, {})
    monkeypatch.setattr(zoo, "load_pretrained", lambda name, **kw: base)
    cfg = dict(init="gpt-stories", init_version=zoo.RECIPES["gpt-stories"].version,
               world=dict(seed=2, n_people=4, n_towns=2, n_shops=1), distractors=1, max_chars=128, steps=6,
               curriculum=((0, 2),), batch_size=2, sort_window=2, lr=1e-3, weight_decay=0.0, grad_clip=1.0, seed=0, eval_every=3, val_questions=8,
               stories=dict(n=5, seed=1), story_batches=1)
    before = {n: p.detach().clone() for n, p in base.model.named_parameters()}
    model, tokenizer, info, history = train_reader(cfg, progress=False)
    assert set(WORLD_CHARACTERS) <= set(tokenizer.itos) and model.config.vocab_size == tokenizer.vocab_size
    assert history["steps"] == [0, 3, 6] and len(history["val"]) == len(history["story"]) == 3 and info["steps"] == 6
    assert all(torch.equal(p, before[n]) for n, p in base.model.named_parameters())   # the base is untouched
    assert not torch.equal(model.blocks[0].attn.qkv.weight, base.model.blocks[0].attn.qkv.weight)
    scratch = train_reader(dict(cfg, init="random", steps=2), progress=False)[0]
    assert scratch.config == model.config
    assert not torch.allclose(scratch.pos_emb.weight, base.model.pos_emb.weight)
    with pytest.raises(ValueError, match="init_version"):
        train_reader(dict(cfg, init_version=-1), progress=False)
    with pytest.raises(ValueError, match="init must be"):
        train_reader(dict(cfg, init="bert-stories"), progress=False)


def test_reading_task_holds_out_every_entity_named_in_training():
    from llmcourse.finetune import READER_WORLD, reading_task

    train, held_out = reading_task()
    train_world, test_world = world(**READER_WORLD), world(seed=0)
    trained_names = {d.title for d in train_world.documents}
    doc_of = {q.id: q.doc_id for q in test_world.qa}
    assert len(train) == len(reading_examples(train_world)) > 13_000
    assert 1500 < len(held_out) < len(test_world.qa)
    assert not {test_world.document(doc_of[e.id]).title for e in held_out} & trained_names
    left_out = {e.id for e in reading_examples(test_world)} - {e.id for e in held_out}
    assert left_out and all(test_world.document(doc_of[i]).title in trained_names for i in left_out)


def test_mean_answer_loss_and_accuracy_count_every_answer_token_once():
    tok = CharTokenizer("abcd\n")
    examples = [Example("1", "ab", "c"), Example("2", "abcd", "dab"), Example("3", "d", "a")]
    model = _gpt(tok.vocab_size, seed=2)
    nats, right = [], []
    with torch.no_grad():
        for e in examples:                                         # one example at a time, no padding
            ids = torch.tensor([tok.encode(e.text)])
            logits, n = model(ids)[0, :-1], len(e.answer) + 1
            nats += F.cross_entropy(logits[-n:], ids[0, -n:], reduction="none").tolist()
            right += (logits[-n:].argmax(-1) == ids[0, -n:]).tolist()
    assert abs(mean_answer_loss(model, tok, examples, batch_size=2) - sum(nats) / len(nats)) < 1e-5
    assert answer_accuracy(model, tok, examples, batch_size=2) == sum(right) / len(right)
    with pytest.raises(ValueError, match="at least one example"):
        answer_accuracy(model, tok, [])
