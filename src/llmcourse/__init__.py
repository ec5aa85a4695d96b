"""llmcourse — the shared package of *How LLMs Work — build one from an RNN to RAG*.

Each module belongs to one chapter of the book and is named after its slug:

==================  ==========================================
module              chapter
==================  ==========================================
``data``            the story corpus and its entropy floor (used everywhere); recall drills (Chapters 04, 07)
``intro``           Chapter 00 — the pipeline in one page
``tokenization``    Chapter 01 — tokenization
``ngram``           counting and neural bigram models (Chapter 00 demo, Chapter 02)
``embeddings``      Chapter 03 — embeddings, similarity, sinusoidal/learned/rotary positions
``rnn``             Chapter 04 — RNN/LSTM/GRU cells, a character RNN, gradient and recall experiments
``attention``       Chapter 05 — scaled dot-product attention, causal and padding masks
``transformer``     Chapter 06 — multi-head attention, feed-forward, LayerNorm, pre-/post-LN blocks, KV cache
``gpt``             Chapter 07 — the GPT model, AdamW parameter groups, warmup + cosine schedule
``decoding``        Chapter 08 — greedy/temperature/top-k/top-p sampling, beam search, cached generation
``zoo``             models trained once and cached: ``load_pretrained("gpt-stories")`` (Chapter 07 on)
``training``        the training loop: batches, evaluation, ``train``, ``LossHistory`` (Chapter 02 on)
``display``         showing package source and tables in chapters
``grading``         exercises and their grading: ``check_forbidden`` in test cells, cell tags → nbgrader
                    metadata, and ``python -m llmcourse.grading`` (sandboxed autograding of a class)
==================  ==========================================
"""

__version__ = "0.1.0"
