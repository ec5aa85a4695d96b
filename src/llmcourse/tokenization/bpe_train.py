"""Learning BPE merges: the readable trainer and the fast one (Chapter 01 — tokenization).

:meth:`BPETokenizer.train <llmcourse.tokenization.bpe.BPETokenizer.train>` pre-splits the text,
counts each distinct chunk once, and hands ``{chunk bytes: count}`` to one of the two trainers
here. Both return ``{(a, b): new id}`` in the order learnt (ids 256, 257, ...), with the same
tie rule — the most frequent pair wins, ties go to the smallest pair ``(a, b)`` — so they learn
the same merges; ``tests/test_tokenization.py`` checks them against each other.

* :func:`_train_merges_simple` — re-count every pair after every merge (``fast=False``).
* :func:`_train_merges` — keep the counts up to date around each merge (the default).
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Iterable

from llmcourse.tokenization.base import Pair, get_pair_counts, merge


def _steps(new_ids: range, progress: bool) -> Iterable[int]:
    """The ids of the merges to learn, wrapped in a tqdm progress bar if ``progress``."""
    if not progress:
        return new_ids
    from tqdm.auto import tqdm

    return tqdm(new_ids, desc="BPE merges", unit="merge")


def _train_merges_simple(
    chunks: dict[bytes, int], num_merges: int, progress: bool = False
) -> dict[Pair, int]:
    """The readable trainer: re-count every pair after every merge (``train(..., fast=False)``).

    Each chunk is counted once, weighted by how often it occurs in the text. The most
    frequent pair wins; ties go to the smallest pair ``(a, b)``. Same result as
    :func:`_train_merges`, but each merge costs a pass over all chunks.

    >>> _train_merges_simple({b"abab": 2, b"ab": 1}, 2)
    {(97, 98): 256, (256, 256): 257}
    """
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    merges: dict[Pair, int] = {}
    for new_id in _steps(range(256, 256 + num_merges), progress):
        counts: dict[Pair, int] = {}
        for w, f in zip(words, freqs):
            for pair, c in get_pair_counts(w).items():
                counts[pair] = counts.get(pair, 0) + c * f
        if not counts:
            warnings.warn(f"BPE training stopped after {len(merges)} merges: no pairs left", stacklevel=3)
            break
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))  # most frequent, then smallest
        merges[pair] = new_id
        words = [merge(w, pair, new_id) for w in words]
    return merges


def _train_merges(
    chunks: dict[bytes, int], num_merges: int, progress: bool = False
) -> dict[Pair, int]:
    """Learn up to ``num_merges`` merges from chunk → count, ids starting at 256.

    Pair counts are kept over the *unique* chunks, weighted by how often each occurs, and
    updated incrementally: ``where[pair]`` lists the chunks that contain ``pair``, so a merge
    only rewrites those chunks, adjusting the counts of the neighbours it changes. A lazy
    max-heap of (-count, pair) finds the next pair. Ties go to the **smallest pair**
    ``(a, b)`` (compare ``a``, then ``b``), so the result never depends on hash order.

    ``chunks``: ``{chunk bytes: count}``; returns ``{(a, b): new id}`` in the order learnt.

    >>> _train_merges({b"abab": 2, b"ab": 1}, 2)  # the same merges as _train_merges_simple
    {(97, 98): 256, (256, 256): 257}
    """
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for wi, w in enumerate(words):
        f = freqs[wi]
        for pair in zip(w, w[1:]):
            counts[pair] = counts.get(pair, 0) + f
            where.setdefault(pair, set()).add(wi)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    merges: dict[Pair, int] = {}
    for new_id in _steps(range(256, 256 + num_merges), progress):
        while heap:  # pop until the entry's count is current (lazy deletion)
            neg, pair = heapq.heappop(heap)
            c = counts.get(pair, 0)
            if c == -neg:
                break
            if c > 0:  # count went down since the push: re-queue at its true count
                heapq.heappush(heap, (-c, pair))
        else:
            warnings.warn(f"BPE training stopped after {len(merges)} merges: no pairs left", stacklevel=3)
            break
        merges[pair] = new_id
        a, b = pair
        born: set[Pair] = set()  # pairs with the new id, pushed once their counts are final
        for wi in where.pop(pair):
            w, f = words[wi], freqs[wi]
            n, i, out = len(w), 0, []
            while i < n:
                if w[i] == a and i + 1 < n and w[i + 1] == b:
                    if out:  # left neighbour x: (x, a) disappears, (x, new) appears
                        x = out[-1]
                        counts[x, a] -= f
                        p = (x, new_id)
                        counts[p] = counts.get(p, 0) + f
                        where.setdefault(p, set()).add(wi)
                        born.add(p)
                    if i + 2 < n:  # right neighbour y: (b, y) disappears, (new, y) appears
                        y = w[i + 2]
                        counts[b, y] -= f
                        p = (new_id, y)
                        counts[p] = counts.get(p, 0) + f
                        where.setdefault(p, set()).add(wi)
                        born.add(p)
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
        del counts[pair]
        for p in born:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
    return merges
