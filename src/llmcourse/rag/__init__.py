"""Retrieval-augmented generation: find the passage, then read it (Chapter 13 — Retrieval-augmented generation).

The package holds what Chapter 13 builds, one module per idea (read them in this order):

1. :mod:`.chunking` — documents cut into chunks (by sentence, or fixed windows with overlap), and
   the gold chunks that hold each answer;
2. :mod:`.metrics` — recall@k and MRR against those gold chunks, exact match of answers;
3. :mod:`.sparse` — TF-IDF and BM25 from scratch;
4. :mod:`.index` — brute-force cosine top-k, FAISS (exact and HNSW), a LanceDB vector store;
5. :mod:`.dense` — dense retrievers (all-MiniLM-L6-v2 and the story BERT in our own code) and
   reciprocal rank fusion (the hybrid retriever);
6. :mod:`.reranker` — a cross-encoder fine-tuned from the story BERT, to rerank the top 50;
7. :mod:`.prompt` — prompts built from ranked passages within a context budget, answers from a
   reader model, and the passage each answer cites.

Import from here (``from llmcourse.rag import BM25Retriever, recall_at_k``).
"""

from llmcourse.rag.chunking import Chunk, chunk_documents, fixed_windows, gold_chunks, sentence_spans
from llmcourse.rag.dense import DenseRetriever, minilm_encoder, rank_fusion, story_bert_encoder
from llmcourse.rag.index import (VectorStore, cosine_top_k, faiss_flat, faiss_hnsw, faiss_search, hnsw_sweep,
                                 random_unit_vectors, top_k)
from llmcourse.rag.metrics import exact_match, first_gold_rank, mrr, recall_at_k, retrieval_report
from llmcourse.rag.prompt import READER, Prompt, answer, build_prompt, cite, load_reader
from llmcourse.rag.reranker import (CrossEncoder, PairTokenizer, cross_encoder_from_story_bert, cross_encoder_scores,
                                  frequent_words, rerank, train_cross_encoder, training_groups)
from llmcourse.rag.sparse import BM25Retriever, TfidfRetriever, term_counts, words

__all__ = ["Chunk", "chunk_documents", "fixed_windows", "gold_chunks", "sentence_spans", "DenseRetriever",
           "minilm_encoder", "rank_fusion", "story_bert_encoder", "VectorStore", "cosine_top_k", "faiss_flat",
           "faiss_hnsw", "faiss_search", "hnsw_sweep", "random_unit_vectors", "top_k", "exact_match",
           "first_gold_rank", "mrr", "recall_at_k", "retrieval_report", "READER", "Prompt", "answer", "build_prompt",
           "cite", "load_reader", "CrossEncoder", "PairTokenizer", "cross_encoder_from_story_bert",
           "cross_encoder_scores", "frequent_words", "rerank", "train_cross_encoder", "training_groups",
           "BM25Retriever", "TfidfRetriever", "term_counts", "words"]
