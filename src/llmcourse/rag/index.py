"""Vector indexes: brute force from scratch, FAISS exact and HNSW, and LanceDB on disk (Chapter 13 — Retrieval-augmented generation).

Read top to bottom:

1. :func:`top_k` and :func:`cosine_top_k` — the exact search every index is checked against:
   normalise, one matrix product, keep the ``k`` best;
2. :func:`faiss_flat`, :func:`faiss_hnsw`, :func:`faiss_search` — the FAISS library's exact
   inner-product index and its HNSW graph (approximate: ``ef_search`` trades recall for speed);
3. :func:`random_unit_vectors` and :func:`hnsw_sweep` — HNSW's recall and query time against
   brute force, over ``ef_search``, on as many vectors as you like;
4. :class:`VectorStore` — an embedded vector database (LanceDB): chunks with their vectors and
   metadata written to a folder, opened again later, searched with a metadata filter.

>>> vectors = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0]])
>>> scores, ids = cosine_top_k(torch.tensor([[0.0, 1.0]]), vectors, k=2)
>>> ids.tolist(), [round(s, 2) for s in scores[0].tolist()]
([[2, 1]], [1.0, 0.8])
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from llmcourse._checks import int_at_least, positive_int, tensor

__all__ = ["top_k", "cosine_top_k", "faiss_flat", "faiss_hnsw", "faiss_search", "random_unit_vectors",
           "hnsw_sweep", "VectorStore"]


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` highest scores of each row, best first: ``(values (Q, k), indices (Q, k))``.

    ``scores (Q, N)``; ``k`` larger than ``N`` gives all ``N``. Equal scores keep the lower index first.

    Chapter 13 — Retrieval-augmented generation.
    """
    tensor("scores", scores, "(Q, N)", dtype="float")
    k = min(positive_int("k", k), scores.shape[1])
    order = torch.sort(scores, dim=1, descending=True, stable=True)
    return order.values[:, :k], order.indices[:, :k]


def cosine_top_k(queries: torch.Tensor, vectors: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute-force search: the ``k`` vectors most cosine-similar to each query.

    ``queries (Q, C)``, ``vectors (N, C)`` → ``(scores (Q, k), indices (Q, k))``, best first. Both
    sides are scaled to unit length first, so the dot product is the cosine whatever their lengths.

    Chapter 13 — Retrieval-augmented generation.
    """
    C = tensor("vectors", vectors, "(N, C)", dtype="float").shape[1]
    tensor("queries", queries, f"(Q, {C})", dtype="float")
    scores = F.normalize(queries, dim=1) @ F.normalize(vectors, dim=1).T                   # (Q, N)
    return top_k(scores, k)


def _lancedb():
    """``lancedb``, imported with its Rust logger at ``error`` (its info notes would fill the notebook)."""
    os.environ.setdefault("LANCEDB_LOG", "error")          # read once, when the library is first imported
    import lancedb

    return lancedb


def _float32(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows of vectors), got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def faiss_flat(vectors: torch.Tensor | np.ndarray):
    """A FAISS ``IndexFlatIP`` holding ``vectors (N, C)``: exact search by inner product.

    Give it unit vectors and the inner product is the cosine: the same answers as
    :func:`cosine_top_k`, from optimised code.

    Chapter 13 — Retrieval-augmented generation.
    """
    import faiss

    x = _float32(vectors, "vectors")
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index


def faiss_hnsw(vectors: torch.Tensor | np.ndarray, *, m: int = 32, ef_construction: int = 40):
    """A FAISS ``IndexHNSWFlat`` (inner product) holding ``vectors (N, C)``: a graph search.

    HNSW (hierarchical navigable small world) links every vector to about ``m`` neighbours, in
    layers from coarse to fine; a search walks the graph greedily from the top, keeping a list of
    ``ef_search`` candidates. ``ef_construction`` is that list's length while building. FAISS's
    defaults: ``m`` = 32, ``ef_construction`` = 40, ``ef_search`` = 16.

    Chapter 13 — Retrieval-augmented generation.
    """
    import faiss

    x = _float32(vectors, "vectors")
    index = faiss.IndexHNSWFlat(x.shape[1], positive_int("m", m), faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = positive_int("ef_construction", ef_construction)
    index.add(x)
    return index


def faiss_search(index, queries: torch.Tensor | np.ndarray, k: int, *,
                 ef_search: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Search a FAISS index: ``(scores (Q, k), indices (Q, k))`` as torch tensors, best first.

    ``ef_search`` sets an HNSW index's candidate list (ignored by exact indexes).

    Chapter 13 — Retrieval-augmented generation.
    """
    if ef_search is not None and hasattr(index, "hnsw"):
        index.hnsw.efSearch = positive_int("ef_search", ef_search)
    scores, ids = index.search(_float32(queries, "queries"), positive_int("k", k))
    return torch.from_numpy(scores), torch.from_numpy(ids).long()


def random_unit_vectors(n: int, d: int, *, seed: int = 0) -> np.ndarray:
    """``(n, d)`` float32 vectors drawn uniformly on the unit sphere (normal draws, normalised).

    Chapter 13 — Retrieval-augmented generation.
    """
    x = np.random.default_rng(seed).standard_normal((positive_int("n", n), positive_int("d", d)), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _best_seconds(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def hnsw_sweep(vectors: np.ndarray, queries: np.ndarray, *, k: int = 10, ef_searches: Sequence[int] = (8, 16, 32, 64),
               m: int = 16, ef_construction: int = 40, repeat: int = 2) -> dict:
    """HNSW against brute force on the same vectors: recall@``k`` and query time for each ``ef_search``.

    Recall@k is the share of the exact ``k`` nearest neighbours (FAISS's flat index) that HNSW
    returns, averaged over the queries. Times are the best of ``repeat`` runs of all the queries, in
    CPU seconds of this process (other programs on the machine do not count), per query. Returns
    ``{"build_seconds", "flat_ms", "rows": [(ef_search, recall, ms per query), ...]}``.

    Chapter 13 — Retrieval-augmented generation.
    """
    int_at_least("repeat", repeat, 1)
    flat = faiss_flat(vectors)
    exact = faiss_search(flat, queries, k)[1]
    flat_seconds = _best_seconds(lambda: faiss_search(flat, queries, k), repeat)
    t0 = time.process_time()
    hnsw = faiss_hnsw(vectors, m=m, ef_construction=ef_construction)
    build = time.process_time() - t0
    rows = []
    for ef in ef_searches:
        found = faiss_search(hnsw, queries, k, ef_search=ef)[1]
        recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact.tolist(), found.tolist())])
        seconds = _best_seconds(lambda: faiss_search(hnsw, queries, k, ef_search=ef), repeat)
        rows.append((ef, float(recall), 1000 * seconds / len(queries)))
    return dict(build_seconds=build, flat_ms=1000 * flat_seconds / len(queries), rows=rows)


class VectorStore:
    """An embedded vector database in a folder: LanceDB, one table of chunks with their vectors.

    ``VectorStore.create(folder, chunks, vectors)`` writes the chunks (id, document, title, text,
    kind, version, offsets) with one vector each; ``VectorStore(folder)`` opens what is there — in
    this process or another, later. ``search(vector, k, where=...)`` returns the ``k`` nearest by
    cosine among the rows that pass ``where``, a SQL filter on the metadata such as
    ``"version = 2 AND doc_id = 'person-0003'"``, applied before the search (a *prefilter*).
    Without an ANN index LanceDB compares the query with every row that passes: exact search.

    Chapter 13 — Retrieval-augmented generation.
    """

    TABLE = "chunks"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.table = _lancedb().connect(str(self.folder)).open_table(self.TABLE)

    @classmethod
    def create(cls, folder: str | Path, chunks: Sequence, vectors: torch.Tensor | np.ndarray) -> VectorStore:
        """Write ``chunks`` and their ``vectors (N, C)`` to a new table in ``folder``; return the store."""
        import pyarrow as pa

        x = _float32(vectors, "vectors")
        if len(chunks) != len(x):
            raise ValueError(f"{len(chunks)} chunks but {len(x)} vectors: one vector per chunk")
        columns = {name: [getattr(c, name) for c in chunks]
                   for name in ("id", "doc_id", "title", "text", "kind", "version", "start", "end")}
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])
        _lancedb().connect(str(folder)).create_table(cls.TABLE, pa.table(columns), mode="overwrite")
        return cls(folder)

    def __len__(self) -> int:
        return self.table.count_rows()

    def search(self, vector: torch.Tensor | np.ndarray, k: int, *, where: str | None = None) -> list[dict]:
        """The ``k`` rows nearest to ``vector (C,)`` by cosine, best first, among those passing ``where``.

        Each row is a dict of the chunk's fields and its ``score`` (the cosine), without the vector.
        """
        query = self.table.search(_float32(np.asarray(vector).reshape(1, -1), "vector")[0]).metric("cosine")
        if where is not None:
            query = query.where(where, prefilter=True)
        rows = query.limit(positive_int("k", k)).to_list()
        return [{**{key: v for key, v in row.items() if key not in ("vector", "_distance")},
                 "score": 1.0 - row["_distance"]} for row in rows]
