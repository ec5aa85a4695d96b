"""Test-session settings shared by unit tests and the notebook runs (nbval kernels inherit them)."""

import os

# Nothing in the course may reach the network: make the Hugging Face libraries fail fast
# instead of trying a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
