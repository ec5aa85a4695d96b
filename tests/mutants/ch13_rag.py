"""Typical wrong answers to the Chapter 13 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points).
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "word_chunks": ["fixed_windows"],
    "filtered_top_k": ["cosine_top_k"],
    "recall_mrr_at_k": ["recall_at_k", "first_gold_rank"],
    "pack_prompt": ["build_prompt"],
    "rerank_head": ["rerank"],
}

_WORDS = '''
def word_chunks(text, size, overlap=0):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    words = [m.span() for m in re.finditer(r"\\S+", text)]
    out, i = [], 0
    while i < len(words):
        j = min(i + size, len(words)) - 1
        out.append((words[i][0], words[j][1]))
        if j == len(words) - 1:
            break
        i += size - overlap
    return out
'''


def _words(old: str, new: str) -> dict[str, str]:
    assert old in _WORDS, old
    return {"word_chunks": _WORDS.replace(old, new)}


_TOPK = '''
def filtered_top_k(queries, vectors, k, allowed):
    q = F.normalize(queries, dim=1)
    v = F.normalize(vectors, dim=1)
    scores = (q @ v.T).masked_fill(~allowed.expand(len(q), len(v)), -math.inf)
    order = torch.sort(scores, dim=1, descending=True, stable=True)
    s, i = order.values[:, :k], order.indices[:, :k]
    if s.shape[1] < k:
        s = torch.cat([s, torch.full((len(q), k - s.shape[1]), -math.inf)], dim=1)
        i = torch.cat([i, torch.full((len(q), k - i.shape[1]), -1)], dim=1)
    return s, i.masked_fill(torch.isinf(s), -1)
'''


def _topk(old: str, new: str) -> dict[str, str]:
    assert old in _TOPK, old
    return {"filtered_top_k": _TOPK.replace(old, new)}


_METRICS = '''
def recall_mrr_at_k(ranked, gold, k):
    if len(ranked) != len(gold):
        raise ValueError("one ranking per gold list")
    rec, rr = [], []
    for ranking, wanted in zip(ranked, gold):
        wanted = set(wanted)
        if not wanted:
            continue
        head = list(ranking)[:k]
        rec.append(len(wanted & set(head)) / len(wanted))
        ranks = [r + 1 for r, c in enumerate(head) if c in wanted]
        rr.append(1 / ranks[0] if ranks else 0.0)
    if not rec:
        raise ValueError("no gold")
    return sum(rec) / len(rec), sum(rr) / len(rr)
'''


def _metrics(old: str, new: str) -> dict[str, str]:
    assert old in _METRICS, old
    return {"recall_mrr_at_k": _METRICS.replace(old, new)}


_PACK = '''
def pack_prompt(question, passages, budget, count):
    def build(texts):
        return "Q: " + question + "\\n" + " ".join(texts) + "\\nA: "
    if count(build([])) > budget:
        raise ValueError("over budget")
    texts, sources = [], []
    for source, text in passages:
        if text in texts:
            continue
        if count(build(texts + [text])) <= budget:
            texts.append(text)
            sources.append(source)
    return build(texts), sources
'''


def _pack(old: str, new: str) -> dict[str, str]:
    assert old in _PACK, old
    return {"pack_prompt": _PACK.replace(old, new)}


_RERANK = '''
def rerank_head(candidates, score, n):
    if n < 0:
        raise ValueError("n < 0")
    head = list(candidates[:n])
    s = [score(c) for c in head]
    order = sorted(range(len(head)), key=lambda i: (-s[i], i))
    return [head[i] for i in order] + list(candidates[n:])
'''


def _rerank(old: str, new: str) -> dict[str, str]:
    assert old in _RERANK, old
    return {"rerank_head": _RERANK.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # --- word_chunks
    # overlap off by one: windows advance one word too far, sharing overlap - 1 words
    "words_overlap_off_by_one": _words("i += size - overlap", "i += size - overlap + 1"),
    # keeps going after a window reached the last word: an extra, shorter window at the end
    "words_window_after_the_end": _words("        if j == len(words) - 1:\n            break\n", ""),
    # splits on single spaces: runs of spaces and newlines become empty or glued words
    "words_split_on_spaces": _words('re.finditer(r"\\S+", text)', 're.finditer(r"[^ ]+", text)'),
    # the window's end is the start of the next word: trailing spaces included
    "words_end_at_next_word": _words("out.append((words[i][0], words[j][1]))",
                                     "out.append((words[i][0], words[j + 1][0] if j + 1 < len(words) else words[j][1]))"),
    # windows of characters, as the chapter's fixed_windows, not of words
    "words_counted_in_characters": {"word_chunks": '''
def word_chunks(text, size, overlap=0):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    out, start = [], 0
    while start < len(text.strip()):
        out.append((start, min(start + size, len(text))))
        if start + size >= len(text):
            break
        start += size - overlap
    return out
'''},
    # --- filtered_top_k
    # dot product without normalisation: long vectors win
    "topk_dot_product_unnormalised": _topk("    q = F.normalize(queries, dim=1)\n    v = F.normalize(vectors, dim=1)\n",
                                           "    q, v = queries, vectors\n"),
    # only the vectors normalised: the order is right, the scores are scaled by the query's length
    "topk_query_not_normalised": _topk("    q = F.normalize(queries, dim=1)\n", "    q = queries\n"),
    # the filter applied after the search (a postfilter): fewer than k results, -1 in their place
    "topk_postfilter": {"filtered_top_k": '''
def filtered_top_k(queries, vectors, k, allowed):
    q = F.normalize(queries, dim=1)
    v = F.normalize(vectors, dim=1)
    scores = q @ v.T
    order = torch.sort(scores, dim=1, descending=True, stable=True)
    s, i = order.values[:, :k], order.indices[:, :k]
    if s.shape[1] < k:
        s = torch.cat([s, torch.full((len(q), k - s.shape[1]), -math.inf)], dim=1)
        i = torch.cat([i, torch.full((len(q), k - i.shape[1]), -1)], dim=1)
    keep = allowed.expand(len(q), len(v)).gather(1, i.clamp(min=0)) & (i >= 0)
    return s.masked_fill(~keep, -math.inf), i.masked_fill(~keep, -1)
'''},
    # the disallowed rows come back (with -inf) instead of -1
    "topk_no_minus_one": _topk("    return s, i.masked_fill(torch.isinf(s), -1)\n", "    return s, i\n"),
    # an unstable sort: tied scores in any order
    "topk_ties_by_highest_index": {"filtered_top_k": '''
def filtered_top_k(queries, vectors, k, allowed):
    q = F.normalize(queries, dim=1)
    v = F.normalize(vectors, dim=1)
    scores = (q @ v.T).masked_fill(~allowed.expand(len(q), len(v)), -math.inf)
    flipped = torch.sort(scores.flip(1), dim=1, descending=True, stable=True)
    s, i = flipped.values[:, :k], (scores.shape[1] - 1 - flipped.indices)[:, :k]
    if s.shape[1] < k:
        s = torch.cat([s, torch.full((len(q), k - s.shape[1]), -math.inf)], dim=1)
        i = torch.cat([i, torch.full((len(q), k - i.shape[1]), -1)], dim=1)
    return s, i.masked_fill(torch.isinf(s), -1)
'''},
    # --- recall_mrr_at_k
    # recall counted per retrieved item: found / k (precision@k) instead of found / |gold|
    "metrics_recall_per_retrieved_item": _metrics("rec.append(len(wanted & set(head)) / len(wanted))",
                                                  "rec.append(len(wanted & set(head)) / k)"),
    # the chapter's hit rate: 1 when any gold chunk is found
    "metrics_hit_rate": _metrics("rec.append(len(wanted & set(head)) / len(wanted))",
                                 "rec.append(1.0 if wanted & set(head) else 0.0)"),
    # MRR over the whole ranking: not cut at k
    "metrics_mrr_not_cut": _metrics("ranks = [r + 1 for r, c in enumerate(head) if c in wanted]",
                                    "ranks = [r + 1 for r, c in enumerate(list(ranking)) if c in wanted]"),
    # 0-based ranks: 1 / 0 avoided by 1 / (r + 2)... off by one: rank 1 scores 1/2
    "metrics_rank_off_by_one": _metrics("rr.append(1 / ranks[0] if ranks else 0.0)",
                                        "rr.append(1 / (ranks[0] + 1) if ranks else 0.0)"),
    # questions without gold counted as 0 instead of skipped
    "metrics_empty_gold_counted": _metrics("        if not wanted:\n            continue\n",
                                           "        if not wanted:\n            rec.append(0.0)\n            rr.append(0.0)\n"
                                           "            continue\n"),
    # a chunk listed twice counts twice
    "metrics_duplicates_counted": _metrics("rec.append(len(wanted & set(head)) / len(wanted))",
                                           "rec.append(min(1.0, sum(c in wanted for c in head) / len(wanted)))"),
    # --- pack_prompt
    # stops at the first passage that does not fit (the chapter's rule), instead of skipping it
    "pack_stops_at_first_overflow": _pack("            texts.append(text)\n            sources.append(source)\n",
                                          "            texts.append(text)\n            sources.append(source)\n"
                                          "        else:\n            break\n"),
    # off by one: a prompt exactly at the budget is refused
    "pack_strict_budget": _pack("if count(build(texts + [text])) <= budget:", "if count(build(texts + [text])) < budget:"),
    # counts the parts separately: the spaces between passages (and non-additive counts) are missed
    "pack_counts_parts": _pack("if count(build(texts + [text])) <= budget:",
                               "if count(build([])) + sum(count(t) for t in texts + [text]) <= budget:"),
    # repeated passages kept
    "pack_keeps_duplicates": _pack("        if text in texts:\n            continue\n", ""),
    # counts characters whatever count says
    "pack_counts_characters": _pack("if count(build(texts + [text])) <= budget:", "if len(build(texts + [text])) <= budget:"),
    # --- rerank_head
    # rescored everything: the tail is scored (and sorted) too
    "rerank_everything": _rerank("head = list(candidates[:n])", "head = list(candidates)"),
    # lowest score first
    "rerank_ascending": _rerank("key=lambda i: (-s[i], i)", "key=lambda i: (s[i], i)"),
    # ties in reverse first-stage order
    "rerank_ties_reversed": _rerank("key=lambda i: (-s[i], i)", "key=lambda i: (-s[i], -i)"),
    # the tail dropped: only the reranked head is returned
    "rerank_drops_the_tail": _rerank("return [head[i] for i in order] + list(candidates[n:])",
                                     "return [head[i] for i in order]"),
    # score called twice per candidate (once to sort, once more to compare)
    "rerank_scores_twice": _rerank("order = sorted(range(len(head)), key=lambda i: (-s[i], i))",
                                   "order = sorted(range(len(head)), key=lambda i: (-score(head[i]), i))"),
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "forbidden_rag_package": ["test_filtered_top_k", "test_filtered_top_k_hidden"],
}
MUTANTS["forbidden_rag_package"] = {"filtered_top_k": '''
def filtered_top_k(queries, vectors, k, allowed):
    from llmcourse.rag import cosine_top_k
    s, i = cosine_top_k(queries, vectors * allowed.float()[:, None] + 1e-9, k)
    return s, i
'''}
