"""Low-rank adaptation: train a small add-on, leave the pretrained weights as they were (Chapter 12 — LoRA).

Read in the order the chapter builds it:

1. :mod:`~llmcourse.lora.layer` — :class:`LoRALinear`: ``y = x Wᵀ + b + s · (x Aᵀ) Bᵀ`` with ``W``
   and ``b`` frozen, ``A (r, k)`` Kaiming-uniform, ``B (d, r)`` zeros (training starts exactly at
   the pretrained model) and ``s = α / r`` (rsLoRA: ``α / √r``, :func:`lora_scaling`);
   :func:`inject_lora` by module name; :func:`merge_lora` / :func:`unmerge_lora` and
   :func:`merge_and_unload`; :func:`lora_parameters` and :func:`optimizer_state_bytes`;
2. :mod:`~llmcourse.lora.adapter` — the adapter alone as a safetensors file (:func:`save_adapter`,
   :func:`load_adapter`), and the files of the ``peft`` library (:func:`load_peft_adapter`,
   :func:`peft_state_dict`);
3. :mod:`~llmcourse.lora.reader` — :func:`train_reader_adapter`, the zoo's ``gpt-reader-lora``:
   ``gpt-stories`` taught Chapter 11's reading comprehension through LoRA layers alone.
"""

from llmcourse.lora.adapter import (adapter_config, adapter_state_dict, copy_adapter, load_adapter, load_peft_adapter,
                                    peft_state_dict, save_adapter)
from llmcourse.lora.layer import (LoRALinear, inject_lora, lora_layers, lora_parameters, lora_scaling, merge_and_unload,
                                  merge_lora, optimizer_state_bytes, unmerge_lora)
from llmcourse.lora.reader import train_reader_adapter

__all__ = ["LoRALinear", "adapter_config", "adapter_state_dict", "copy_adapter", "inject_lora", "load_adapter",
           "load_peft_adapter", "lora_layers", "lora_parameters", "lora_scaling", "merge_and_unload", "merge_lora",
           "optimizer_state_bytes", "peft_state_dict", "save_adapter", "train_reader_adapter", "unmerge_lora"]
