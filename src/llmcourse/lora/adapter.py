"""The adapter as a file: only its tensors, as safetensors; and peft's adapter files (Chapter 12).

* :func:`adapter_config`, :func:`adapter_state_dict` — what an adapter is: how it was made, and its
  ``A`` and ``B`` tensors;
* :func:`save_adapter` / :func:`load_adapter` — one safetensors file, the config in its metadata;
* :func:`load_peft_adapter` — an adapter written by ``peft``'s ``save_pretrained``, read by our code;
  :func:`peft_state_dict` — ours under peft's names, for ``peft.set_peft_model_state_dict``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from llmcourse.lora.layer import inject_lora, lora_layers

FORMAT = "llmcourse.lora/1"     # the metadata key of an adapter file
PEFT_PREFIX = "base_model.model."


def adapter_config(model: nn.Module) -> dict:
    """How ``model``'s adapter was made: ``{"targets": [layer names], "r", "alpha", "rslora"}``.

    Chapter 12 — LoRA.
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layer")
    kinds = {(m.r, m.alpha, m.rslora) for m in layers.values()}
    if len(kinds) != 1:
        raise ValueError(f"the LoRA layers differ in (r, alpha, rslora): {sorted(kinds)}")
    (r, alpha, rslora), = kinds
    return dict(targets=list(layers), r=r, alpha=alpha, rslora=rslora)


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's tensors only: ``{"<layer>.lora_A": (r, k), "<layer>.lora_B": (d, r), …}``.

    Chapter 12 — LoRA.
    """
    out = {}
    for name, layer in lora_layers(model).items():
        out[f"{name}.lora_A"] = layer.lora_A.detach()
        out[f"{name}.lora_B"] = layer.lora_B.detach()
    return out


def save_adapter(model: nn.Module, path: str | Path) -> Path:
    """Write ``model``'s adapter — its ``A`` and ``B`` tensors, nothing of the base — to a safetensors file.

    The file's metadata holds :func:`adapter_config`, so that :func:`load_adapter` can rebuild the
    layers on a fresh copy of the base model. Refuses a merged model (its ``W`` holds the update).
    Returns the path.

    Chapter 12 — LoRA.
    """
    from safetensors.torch import save_file

    if any(m.merged for m in lora_layers(model).values()):
        raise ValueError("unmerge the model before saving its adapter: merged, W holds the update")
    config = adapter_config(model)
    state = {k: v.contiguous().clone() for k, v in adapter_state_dict(model).items()}
    save_file(state, str(path), metadata={FORMAT: json.dumps(config)})
    return Path(path)


def load_adapter(model: nn.Module, path: str | Path) -> list[str]:
    """Put the adapter that :func:`save_adapter` wrote into ``model``, the base model it was trained on.

    Injects the LoRA layers the file's metadata names (:func:`~llmcourse.lora.inject_lora`; a model
    that has them already keeps its own), then copies ``A`` and ``B``. Returns the adapted layers'
    names. Raises ``ValueError`` when the file is not an adapter file or does not fit the model.

    Chapter 12 — LoRA.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        if FORMAT not in meta:
            raise ValueError(f"{path} is not an adapter file ({FORMAT})")
        config = json.loads(meta[FORMAT])
        state = {k: handle.get_tensor(k) for k in handle.keys()}
    if not lora_layers(model):
        inject_lora(model, config["targets"], r=config["r"], alpha=config["alpha"], rslora=config["rslora"])
    copy_adapter(model, state)
    return config["targets"]


def copy_adapter(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` (``{"<layer>.lora_A": …, "<layer>.lora_B": …}``, every layer of ``model``) into it.

    Chapter 12 — LoRA.
    """
    layers = lora_layers(model)
    wanted = {f"{name}.lora_{m}" for name in layers for m in "AB"}
    if set(state) != wanted:
        raise ValueError(f"the adapter does not fit the model: tensors without a layer "
                         f"{sorted(set(state) - wanted)[:3]}, layers without tensors {sorted(wanted - set(state))[:3]}")
    with torch.no_grad():
        for key, value in state.items():
            name, _, which = key.rpartition(".")
            target = getattr(layers[name], which)
            if target.shape != value.shape:
                raise ValueError(f"{key}: the adapter holds {tuple(value.shape)}, the model {tuple(target.shape)}")
            target.copy_(value)


def peft_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter under the names peft saves it with: ``base_model.model.<layer>.lora_A.weight`` etc.

    Chapter 12 — LoRA.
    """
    return {PEFT_PREFIX + key + ".weight": value for key, value in adapter_state_dict(model).items()}


def load_peft_adapter(model: nn.Module, directory: str | Path) -> list[str]:
    """Load into ``model`` an adapter written by peft's ``save_pretrained``, with our own code.

    peft writes ``adapter_config.json`` (``r``, ``lora_alpha``, ``target_modules``, ``use_rslora``,
    …) and ``adapter_model.safetensors`` holding ``base_model.model.<layer>.lora_A.weight``
    ``(r, k)`` and ``….lora_B.weight`` ``(d, r)``. We inject LoRA layers as the config says (a list
    of ``target_modules``; peft's regular-expression form, a single string, is refused) and copy
    the tensors under our names. Returns the adapted layers' names.

    Chapter 12 — LoRA.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type") != "LORA":
        raise ValueError(f"not a LoRA adapter: peft_type {config.get('peft_type')!r}")
    targets = config["target_modules"]
    if isinstance(targets, str):
        raise ValueError(f"target_modules is the regular expression {targets!r}: give peft a list of names")
    unsupported = {key: config[key] for key in ("use_dora", "fan_in_fan_out", "lora_bias") if config.get(key)}
    if unsupported or config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ValueError(f"this adapter uses options our LoRALinear does not have: {unsupported or 'per-layer ranks'}")
    names = inject_lora(model, sorted(targets), r=config["r"], alpha=config["lora_alpha"],
                        rslora=bool(config.get("use_rslora", False)))
    state = {}
    for key, value in load_file(directory / "adapter_model.safetensors").items():
        if not key.startswith(PEFT_PREFIX) or not key.endswith(".weight"):
            raise ValueError(f"unexpected tensor {key!r} in peft's adapter file")
        state[key.removeprefix(PEFT_PREFIX).removesuffix(".weight")] = value
    copy_adapter(model, state)
    return names
