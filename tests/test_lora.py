"""Tests of llmcourse.lora (Chapter 12): the layer against its formula and against peft, injection, merging,
the adapter files (ours and peft's), the counts, and the zoo reader's training on a tiny recipe."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn

from llmcourse import lora
from llmcourse.gpt import GPT, GPTConfig
from llmcourse.lora import LoRALinear, inject_lora

TARGETS = ["qkv", "proj", "fc"]


def _gpt(vocab_size: int = 13, block_size: int = 12, dtype=torch.float32, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layers=2, n_heads=2, d_model=16)).to(dtype)


def _randomise_b(model: nn.Module, seed: int = 1, std: float = 0.3) -> None:
    """Give every B a random value (a fresh adapter is zero: nothing to compare)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora.lora_layers(model).values():
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g, dtype=torch.float64) * std)


def _ids(vocab_size: int = 13, shape=(3, 12), seed: int = 5) -> torch.Tensor:
    return torch.randint(0, vocab_size, shape, generator=torch.Generator().manual_seed(seed))


# --- the layer ---------------------------------------------------------------------------------------------

def test_a_fresh_layer_is_the_base_layer_exactly_with_a_kaiming_a_and_a_zero_b():
    torch.manual_seed(0)
    base = nn.Linear(40, 24)
    layer = LoRALinear(copy.deepcopy(base), r=4, alpha=8)
    x = torch.randn(5, 7, 40)
    assert torch.equal(layer(x), base(x))
    assert torch.equal(layer.lora_B, torch.zeros(24, 4)) and layer.lora_A.shape == (4, 40)
    bound = 1 / math.sqrt(40)                     # Kaiming-uniform with a = √5: U(-1/√k, 1/√k)
    assert layer.lora_A.abs().max() <= bound and layer.lora_A.abs().max() > 0.9 * bound
    assert abs(layer.lora_A.std().item() - bound / math.sqrt(3)) < 0.2 * bound
    assert layer.scaling == 2.0 and LoRALinear(nn.Linear(4, 4), r=4, alpha=8, rslora=True).scaling == 4.0


def test_the_layer_computes_its_formula_and_shares_the_base_tensors():
    torch.manual_seed(0)
    base = nn.Linear(10, 6).double()
    layer = LoRALinear(base, r=3, alpha=5).double()
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 10, dtype=torch.float64)
    want = x @ base.weight.T + base.bias + (5 / 3) * x @ layer.lora_A.T @ layer.lora_B.T
    assert torch.allclose(layer(x), want, atol=1e-12)
    assert layer.weight is base.weight and layer.bias is base.bias
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert torch.allclose(layer.delta_weight(), (5 / 3) * layer.lora_B @ layer.lora_A)


def test_training_moves_only_a_and_b():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), r=2, alpha=4)
    w0, b0 = layer.weight.clone(), layer.bias.clone()
    opt = torch.optim.AdamW([p for p in layer.parameters() if p.requires_grad], lr=0.1, weight_decay=0.1)
    layer(torch.randn(16, 8)).pow(2).sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is None
    assert layer.lora_B.grad.abs().sum() > 0 and layer.lora_A.grad.abs().sum() == 0   # B = 0: A's gradient is 0
    opt.step()
    assert torch.equal(layer.weight, w0) and torch.equal(layer.bias, b0) and layer.lora_B.abs().sum() > 0


def test_dropout_acts_on_the_low_rank_path_only_and_not_in_eval_mode():
    torch.manual_seed(0)
    base = nn.Linear(6, 6)
    layer = LoRALinear(copy.deepcopy(base), r=2, alpha=2, dropout=0.5)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(64, 6)
    layer.train()
    a, b = layer(x), layer(x)
    assert not torch.equal(a, b)
    layer.eval()
    full = base(x) + layer.scaling * x @ layer.lora_A.T @ layer.lora_B.T
    assert torch.allclose(layer(x), full, atol=1e-6)
    layer.lora_B.data.zero_()
    layer.train()
    assert torch.equal(layer(x), base(x))         # with B = 0 dropout changes nothing: the base path has none


@pytest.mark.parametrize(("kwargs", "error"), [
    (dict(r=0, alpha=1), ValueError), (dict(r=2, alpha=0), ValueError), (dict(r=2, alpha=1, dropout=1.5), ValueError),
    (dict(r=True, alpha=1), ValueError)])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        LoRALinear(nn.Linear(4, 4), **kwargs)
    with pytest.raises(TypeError):
        LoRALinear(nn.Embedding(4, 4), r=1, alpha=1)
    with pytest.raises(ValueError, match="shape"):
        LoRALinear(nn.Linear(4, 4), r=1, alpha=1)(torch.zeros(2, 5))


# --- injection -------------------------------------------------------------------------------------------

def test_injection_picks_layers_by_peft_rule_and_freezes_everything_else():
    model = _gpt()
    names = inject_lora(model, ["qkv", "attn.proj"], r=2, alpha=4)
    assert names == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.1.attn.qkv", "blocks.1.attn.proj"]
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == sorted(f"{n}.lora_{m}" for n in names for m in "AB")
    assert isinstance(model.blocks[0].mlp.proj, nn.Linear) and not isinstance(model.blocks[0].mlp.proj, LoRALinear)
    assert model.lm_head.weight is model.tok_emb.weight                  # the tied head is left alone
    both = [f"blocks.{i}.{m}.proj" for i in (0, 1) for m in ("attn", "mlp")]
    assert inject_lora(_gpt(), ["proj"], r=1, alpha=1) == both


def test_injection_keeps_the_output_and_is_seeded():
    model, ids = _gpt(), _ids()
    before = model(ids)
    inject_lora(model, TARGETS, r=3, alpha=6, seed=7)
    assert torch.equal(model(ids), before)
    again = _gpt()
    inject_lora(again, TARGETS, r=3, alpha=6, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(lora.adapter_state_dict(model).values(),
                                                 lora.adapter_state_dict(again).values()))


def test_injection_errors():
    with pytest.raises(ValueError, match="no nn.Linear"):
        inject_lora(_gpt(), ["attention"], r=1, alpha=1)
    with pytest.raises(ValueError, match="string"):
        inject_lora(_gpt(), "qkv", r=1, alpha=1)
    model = _gpt()
    inject_lora(model, ["qkv"], r=1, alpha=1)
    with pytest.raises(ValueError, match="already"):
        inject_lora(model, ["fc"], r=1, alpha=1)


def test_counts_trainable_parameters_and_optimizer_state():
    model = _gpt()
    total = model.num_parameters()
    inject_lora(model, TARGETS, r=2, alpha=4)
    per_block = 2 * (16 + 48) + 2 * (16 + 16) + 2 * (16 + 64) + 2 * (64 + 16)   # qkv, attn.proj, fc, mlp.proj
    counts = lora.lora_parameters(model)
    assert counts == dict(trainable=2 * per_block, total=total + 2 * per_block)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    assert lora.optimizer_state_bytes(opt) == 0
    model(_ids()).sum().backward()
    opt.step()
    tensors = len([p for p in model.parameters() if p.requires_grad])
    assert lora.optimizer_state_bytes(opt) == 2 * 4 * counts["trainable"] + 4 * tensors   # exp_avg, exp_avg_sq, step
    assert lora.lora_scaling(4, 8) == 2 and lora.lora_scaling(4, 8, rslora=True) == 4


# --- merging ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dtype", "tol", "restore"), [(torch.float32, 1e-5, 1e-6), (torch.float64, 1e-12, 1e-15)])
def test_merge_gives_the_adapter_output_and_unmerge_restores_w(dtype, tol, restore):
    model, ids = _gpt(dtype=dtype), _ids()
    inject_lora(model, TARGETS, r=4, alpha=8)
    _randomise_b(model)
    w0 = {n: m.weight.clone() for n, m in lora.lora_layers(model).items()}
    adapted = model(ids)
    assert lora.merge_lora(model) == 8
    assert (model(ids) - adapted).abs().max() <= tol
    assert all(not torch.equal(m.weight, w0[n]) for n, m in lora.lora_layers(model).items())
    with pytest.raises(RuntimeError, match="already merged"):
        lora.merge_lora(model)
    lora.unmerge_lora(model)
    assert max((m.weight - w0[n]).abs().max().item() for n, m in lora.lora_layers(model).items()) <= restore
    assert (model(ids) - adapted).abs().max() <= tol
    with pytest.raises(RuntimeError, match="not merged"):
        lora.unmerge_lora(model)


def test_merge_and_unload_gives_a_plain_gpt_with_the_adapter_baked_in():
    model, ids = _gpt(), _ids()
    plain_names = [n for n, _ in model.named_parameters()]
    inject_lora(model, TARGETS, r=2, alpha=4)
    _randomise_b(model)
    adapted = model(ids)
    lora.merge_and_unload(model)
    assert not lora.lora_layers(model) and [n for n, _ in model.named_parameters()] == plain_names
    assert all(p.requires_grad for p in model.parameters())
    assert torch.allclose(model(ids), adapted, atol=1e-5)
    fresh = _gpt(seed=3)
    fresh.load_state_dict(model.state_dict())             # strict: the same names and shapes as a GPT
    assert torch.allclose(fresh(ids), adapted, atol=1e-5)


# --- adapter files ---------------------------------------------------------------------------------------

def test_save_and_load_the_adapter_alone(tmp_path):
    from safetensors.torch import load_file

    model, ids = _gpt(), _ids()
    inject_lora(model, TARGETS, r=2, alpha=3, rslora=True)
    _randomise_b(model)
    path = lora.save_adapter(model, tmp_path / "adapter.safetensors")
    stored = load_file(path)
    assert set(stored) == {f"{n}.lora_{m}" for n in lora.lora_layers(model) for m in "AB"}
    assert sum(v.numel() for v in stored.values()) == lora.lora_parameters(model)["trainable"]
    fresh = _gpt()                                        # the same base, no adapter yet
    assert lora.load_adapter(fresh, path) == list(lora.lora_layers(model))
    assert torch.equal(fresh(ids), model(ids))
    assert lora.adapter_config(fresh) == dict(targets=list(lora.lora_layers(model)), r=2, alpha=3.0, rslora=True)


def test_adapter_files_that_do_not_fit_are_refused(tmp_path):
    from safetensors.torch import save_file

    model = _gpt()
    inject_lora(model, ["qkv"], r=2, alpha=4)
    path = lora.save_adapter(model, tmp_path / "a.safetensors")
    other = _gpt()
    inject_lora(other, ["qkv"], r=3, alpha=4)
    with pytest.raises(ValueError, match="holds"):
        lora.load_adapter(other, path)                    # rank 2 tensors, rank 3 layers
    other = _gpt()
    inject_lora(other, ["fc"], r=2, alpha=4)
    with pytest.raises(ValueError, match="does not fit"):
        lora.load_adapter(other, path)
    save_file({"x": torch.zeros(1)}, tmp_path / "b.safetensors")
    with pytest.raises(ValueError, match="not an adapter file"):
        lora.load_adapter(_gpt(), tmp_path / "b.safetensors")
    lora.merge_lora(model)
    with pytest.raises(ValueError, match="unmerge"):
        lora.save_adapter(model, tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="no LoRA layer"):
        lora.adapter_config(_gpt())


# --- against peft ----------------------------------------------------------------------------------------

def _peft_twin(model: nn.Module, targets, r, alpha, rslora=False):
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, use_rslora=rslora,
                             init_lora_weights=False)
    return peft, peft.get_peft_model(copy.deepcopy(model), config)


@pytest.mark.parametrize("rslora", [False, True])
def test_equal_to_peft_given_the_same_weights(rslora):
    base, ids = _gpt(), _ids()
    peft, twin = _peft_twin(base, TARGETS, r=4, alpha=6, rslora=rslora)
    ours = copy.deepcopy(base)
    inject_lora(ours, TARGETS, r=4, alpha=6, rslora=rslora)
    state = {k.removeprefix("base_model.model.").replace(".default.weight", ""): v
             for k, v in twin.named_parameters() if "lora_" in k}
    lora.copy_adapter(ours, state)
    assert all(m.scaling == twin.get_submodule(f"base_model.model.{n}").scaling["default"]
               for n, m in lora.lora_layers(ours).items())
    assert sorted(n.removeprefix("base_model.model.").replace(".default.weight", "") for n, p in twin.named_parameters()
                  if p.requires_grad) == sorted(n for n, p in ours.named_parameters() if p.requires_grad)
    twin.eval()
    assert (ours(ids) - twin(ids)).abs().max() <= 1e-5
    assert (ours(ids) - base(ids)).abs().max() > 1e-2      # the adapter does something


def test_peft_files_are_read_by_our_code_and_ours_by_peft(tmp_path):
    base, ids = _gpt(), _ids()
    peft, twin = _peft_twin(base, ["qkv", "fc"], r=2, alpha=5)
    twin.eval()
    twin.save_pretrained(tmp_path / "peft")
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["r"] == 2
    ours = copy.deepcopy(base)
    assert lora.load_peft_adapter(ours, tmp_path / "peft") == ["blocks.0.attn.qkv", "blocks.0.mlp.fc",
                                                               "blocks.1.attn.qkv", "blocks.1.mlp.fc"]
    assert (ours(ids) - twin(ids)).abs().max() <= 1e-5
    _randomise_b(ours, seed=9)                              # the other way: our tensors into peft's model
    peft.set_peft_model_state_dict(twin, lora.peft_state_dict(ours))
    assert (ours(ids) - twin(ids)).abs().max() <= 1e-5


def test_peft_files_with_options_we_lack_are_refused(tmp_path):
    peft = pytest.importorskip("peft")
    twin = peft.get_peft_model(_gpt(), peft.LoraConfig(r=2, lora_alpha=2, target_modules=r".*qkv"))
    twin.save_pretrained(tmp_path / "regex")
    with pytest.raises(ValueError, match="regular expression"):
        lora.load_peft_adapter(_gpt(), tmp_path / "regex")
    twin = peft.get_peft_model(_gpt(), peft.LoraConfig(r=2, lora_alpha=2, target_modules=["qkv"], use_dora=True))
    twin.save_pretrained(tmp_path / "dora")
    with pytest.raises(ValueError, match="options"):
        lora.load_peft_adapter(_gpt(), tmp_path / "dora")


# --- the zoo's reader adapter ----------------------------------------------------------------------------

def test_train_reader_adapter_on_a_tiny_recipe(monkeypatch):
    from llmcourse import zoo
    from llmcourse.data import corpus_text
    from llmcourse.finetune import WORLD_CHARACTERS
    from llmcourse.tokenization import CharTokenizer

    tok = CharTokenizer(corpus_text(5, seed=1))
    base = zoo.Pretrained("gpt-stories", _gpt(tok.vocab_size, block_size=128), tok, {}, {})
    asked = []
    monkeypatch.setattr(zoo, "load_pretrained", lambda name, **kw: asked.append(name) or base)
    cfg = dict(init_version=zoo.RECIPES["gpt-stories"].version, world=dict(seed=2, n_people=4, n_towns=2, n_shops=1),
               distractors=1, max_chars=128, steps=4, batch_size=2, lr=1e-2, weight_decay=0.0, grad_clip=1.0, seed=0,
               eval_every=2, val_questions=8, stories=dict(n=5, seed=1), story_batches=1,
               adapter=dict(targets=["qkv", "fc"], r=2, alpha=4))
    before = {n: p.detach().clone() for n, p in base.model.named_parameters()}
    model, tokenizer, info, history = lora.train_reader_adapter(cfg, progress=False)
    assert set(WORLD_CHARACTERS) <= set(tokenizer.itos) and history["steps"] == [0, 2, 4]
    assert info["trainable"] == 2 * (2 * (16 + 48) + 2 * (16 + 64)) and info["parameters"] > info["trainable"]
    assert all(torch.equal(p, before[n]) for n, p in base.model.named_parameters())
    assert all(m.lora_B.abs().sum() > 0 for m in lora.lora_layers(model).values())      # the adapter trained
    plain = {n: p for n, p in model.named_parameters() if "lora_" not in n and n != "tok_emb.weight"}
    assert all(torch.equal(p, before[n]) for n, p in plain.items())                      # the base did not move
    with pytest.raises(ValueError, match="gpt-stories version"):
        lora.train_reader_adapter(dict(cfg, init_version=-1), progress=False)
    assert asked == ["gpt-stories"]                                                   # the default base
    on_reader = dict(cfg, base="gpt-reader-sentence", init_version=zoo.RECIPES["gpt-reader-sentence"].version)
    lora.train_reader_adapter(on_reader, progress=False)
    assert asked[-1] == "gpt-reader-sentence"
    with pytest.raises(ValueError, match="gpt-reader-sentence version"):
        lora.train_reader_adapter(dict(on_reader, init_version=-1), progress=False)
