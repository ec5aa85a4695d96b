"""llmcourse — the shared package of *How LLMs Work — build one from an RNN to RAG*.

Each chapter of the book builds one or more modules of this package; a module belongs to the
chapter that builds it (later chapters import it) and names that chapter at the end of its
docstring's first line, ``(Chapter NN — Title).``. The slug ``chNN_slug`` names the chapter's
notebook in ``book/``, ``solutions/`` and ``notebooks/``. ``tests/test_project.py`` checks this
table against the package, the tests and the README, which repeats it.

=========================  ==========================  ==========================================
chapter                    modules                     tests
=========================  ==========================  ==========================================
ch00_intro                 intro                       test_intro
ch01_tokenization          tokenization                test_tokenization
ch02_language_models       ngram, training             test_ngram, test_training
ch03_embeddings            embeddings                  test_embeddings
ch04_rnn                   rnn                         test_rnn
ch05_attention             attention                   test_attention
ch06_transformer_block     transformer                 test_transformer
ch07_gpt                   gpt                         test_gpt
ch08_decoding              decoding                    test_decoding
ch09_bert                  bert                        test_bert
ch10_encoder_decoder       encoder_decoder             test_encoder_decoder, test_translation
ch11_finetuning            finetune                    test_finetune
ch12_lora                  lora                        test_lora
ch13_rag                   rag                         test_rag
ch14_alignment             alignment                   test_alignment
appendix_a_scaling         distributed                 test_distributed
(every chapter)            data, zoo, display,         test_data, test_drills, test_zoo,
                           grading, workspace,         test_checks, test_grading, test_hostile,
                           _checks                     test_sandbox, test_copyproof,
                                                       test_exercises, test_validate,
                                                       test_book, test_project, test_world,
                                                       test_workspace, test_lab, test_bench
=========================  ==========================  ==========================================

What each module holds:

* ``intro`` — softmax, temperature and the greedy pick: the last step of every model.
* ``tokenization`` — character, word, byte-level BPE and WordPiece tokenizers, one protocol.
* ``ngram`` — counting and neural bigram models; ``training`` — batches, evaluation, the loop.
* ``embeddings`` — lookups, similarity, sinusoidal/learned/rotary positions.
* ``rnn`` — RNN/LSTM/GRU cells, a character RNN, gradient and recall experiments.
* ``attention`` — scaled dot-product attention, causal and padding masks.
* ``transformer`` — multi-head attention, feed-forward, LayerNorm, pre-/post-LN blocks, KV cache.
* ``gpt`` — the GPT model, AdamW parameter groups, warmup + cosine schedule.
* ``decoding`` — greedy/temperature/top-k/top-p sampling, beam search, the one generation loop.
* ``bert`` — the encoder-only transformer, masked-token data and pretraining, pooling, fine-tuning
  for classification, all-MiniLM-L6-v2 loaded into our own classes.
* ``encoder_decoder`` — cross-attention, decoder blocks, the encoder–decoder transformer and an RNN
  without attention, teacher forcing, translation through ``decoding``, BLEU and chrF.
* ``finetune`` — fine-tuning on a new format: reading-comprehension and closed-book examples from the
  World, vocabulary extension, answer-only loss, freezing, the loop, exact match; the zoo's readers.
* ``lora`` — low-rank adaptation: the LoRA layer (frozen W, Kaiming-uniform A, zero B, α/r or rsLoRA's α/√r,
  dropout on its path), injection by module name, merge and unmerge, the adapter alone as safetensors, peft's
  adapter files; the zoo's ``gpt-reader-lora`` (on ``gpt-reader-sentence``).
* ``rag`` — retrieval-augmented generation: chunking with overlap, TF-IDF and BM25 from scratch, dense
  retrievers through our BERT, rank fusion, brute-force, FAISS and LanceDB indexes, a cross-encoder reranker,
  prompts within a budget with citations, recall@k, MRR and exact match.
* ``alignment`` — learning from preferences on an enumerable task (a story's last line, one of 32 endings
  written through a trie): SFT, a Bradley–Terry reward model, REINFORCE RLHF with a KL penalty, DPO,
  best-of-n, and the exact optimum π* ∝ π_ref·exp(r/β) with exact KL divergences.
* ``distributed`` — data-parallel training under ``torchrun`` (DDP, gradient accumulation, bf16).
* ``data`` — the story corpus and its entropy floor, recall drills, the World knowledge base
  (``world``: invented entities as documents with questions, in versions; Chapters 11 and 13); ``zoo`` — models trained
  once and cached (``load_pretrained("gpt-stories")``); ``display`` — showing source and tables;
  ``grading`` — ``check_forbidden`` for test cells, tags → nbgrader metadata, and
  ``python -m llmcourse.grading`` (sandboxed autograding of a class); ``workspace`` — the
  learner's copies of chapters and exercises that ``make lab`` opens; ``_checks`` — the
  argument checks the modules share.
"""

__version__ = "0.1.0"
