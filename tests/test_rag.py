"""Tests of llmcourse.rag (Chapter 13 — Retrieval-augmented generation): each checks the promise of one
piece against an independent computation — a library (bm25s, scikit-learn, FAISS), a hand-worked case or a
plain loop — on a small World."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmcourse import rag
from llmcourse.data import world


@pytest.fixture(scope="module")
def small():
    w = world(seed=3, n_people=30, n_towns=6, n_shops=8)
    chunks = rag.chunk_documents(w.documents)
    return w, chunks, [c.titled for c in chunks]


# --- chunking -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("length", "size", "overlap"), [(10, 4, 1), (10, 4, 0), (7, 7, 3), (3, 5, 2), (100, 9, 8)])
def test_fixed_windows_cover_the_text_with_the_overlap(length, size, overlap):
    spans = rag.fixed_windows(length, size, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(0 < b - a <= size for a, b in spans)
    for (a0, b0), (a1, b1) in zip(spans, spans[1:]):
        assert a1 - a0 == size - overlap and b0 - a1 == overlap      # each window overlaps the last by `overlap`
    assert all(b < length for _, b in spans[:-1])                    # none after the one that reached the end


def test_fixed_windows_edge_cases():
    assert rag.fixed_windows(0, 4, 1) == []
    for bad in [dict(length=5, size=3, overlap=3), dict(length=5, size=0, overlap=0),
                dict(length=-1, size=3, overlap=0), dict(length=5, size=3, overlap=-1)]:
        with pytest.raises(ValueError):
            rag.fixed_windows(**bad)


def test_sentence_chunks_and_their_gold(small):
    w, chunks, _ = small
    assert len(chunks) == sum(len(d.sentences) for d in w.documents)
    for c in chunks:
        assert w.document(c.doc_id).text[c.start:c.end] == c.text and c.titled == f"{c.title}: {c.text}"
    gold = rag.gold_chunks(w.qa, chunks)
    for q, g in zip(w.qa, gold):
        assert len(g) == 1 and chunks[g[0]].text == w.document(q.doc_id).sentences[q.sentence]
        assert q.answer in chunks[g[0]].text


def test_gold_of_fixed_windows_is_every_window_holding_the_answer(small):
    w, _, _ = small
    longest = max(len(q.answer) for q in w.qa)
    for overlap in (0, longest):
        windows = rag.chunk_documents(w.documents, "fixed", size=48, overlap=overlap)
        gold = rag.gold_chunks(w.qa, windows)
        for q, g in zip(w.qa, gold):
            start, end = q.answer_start, q.answer_start + len(q.answer)
            want = [i for i, c in enumerate(windows) if c.doc_id == q.doc_id and c.start <= start and c.end >= end]
            assert g == want and all(q.answer in windows[i].text for i in g)
        if overlap:
            assert all(gold), "an overlap as long as the longest answer keeps every answer whole"
        else:
            assert not all(gold), "without overlap some answer is cut (48 characters, tens of answers)"


# --- metrics --------------------------------------------------------------------------------------------------------
def test_ranks_recall_and_mrr_by_hand():
    ranked = torch.tensor([[4, 2, 7, 1], [1, 3, 5, 0], [9, 8, 6, 5], [0, 1, 2, 3]])
    gold = [[2], [5, 1], [0], []]
    assert rag.first_gold_rank(ranked, gold) == [2, 1, None, None]
    assert [rag.recall_at_k(ranked, gold, k) for k in (1, 2, 4)] == [0.25, 0.5, 0.5]
    assert rag.mrr(ranked, gold) == pytest.approx((1 / 2 + 1) / 4)
    report = rag.retrieval_report(ranked.tolist(), gold, ks=(1, 2))
    assert report == {"recall@1": 0.25, "recall@2": 0.5, "MRR": pytest.approx(0.375)}
    with pytest.raises(ValueError):
        rag.recall_at_k(ranked, gold[:2], 1)
    with pytest.raises(ValueError):
        rag.recall_at_k(ranked, gold, 0)
    assert rag.exact_match(["a", "b"], ["a", "c"]) == 0.5
    with pytest.raises(ValueError):
        rag.exact_match([], [])


# --- sparse retrievers ----------------------------------------------------------------------------------------------
def test_term_counts_and_words():
    counts, vocab = rag.term_counts(["The newt, the NEWT's pond.", "pond"])
    assert vocab == {"the": 0, "newt": 1, "s": 2, "pond": 3}
    assert counts.to_dense().tolist() == [[2.0, 2.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]]
    known, _ = rag.term_counts(["pond frog pond"], vocab)
    assert known.to_dense().tolist() == [[0.0, 0.0, 0.0, 2.0]]


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.3), (0.9, 1.0)])
def test_bm25_equals_bm25s_lucene(small, k1, b):
    import bm25s

    w, _, texts = small
    ours = rag.BM25Retriever(texts, k1=k1, b=b)
    theirs = bm25s.BM25(k1=k1, b=b, method="lucene")
    theirs.index([rag.words(t) for t in texts], show_progress=False)
    questions = [q.question for q in w.qa[::7]] + ["pond pond pond newt"]     # a repeated term counts again
    scores = ours.scores(questions, batch_size=5)                              # batches change nothing
    assert scores.shape == (len(questions), len(texts))
    for i, q in enumerate(questions):
        assert np.allclose(theirs.get_scores(rag.words(q)), scores[i].numpy(), atol=1e-5)


def test_bm25_by_a_plain_loop():
    texts = ["a b a c", "b b", "c d e f g h"]
    ours = rag.BM25Retriever(texts, k1=1.2, b=0.5).scores(["a b z", "h"])
    docs = [t.split() for t in texts]
    avg = sum(map(len, docs)) / 3

    def score(query, d):
        total = 0.0
        for t in query.split():
            df = sum(t in x for x in docs)
            if df:
                tf = d.count(t)
                total += math.log(1 + (3 - df + 0.5) / (df + 0.5)) * tf / (tf + 1.2 * (1 - 0.5 + 0.5 * len(d) / avg))
        return total

    want = torch.tensor([[score(q, d) for d in docs] for q in ("a b z", "h")])
    assert torch.allclose(ours, want, atol=1e-6)


def test_tfidf_equals_scikit_learn(small):
    from sklearn.feature_extraction.text import TfidfVectorizer

    w, _, texts = small
    questions = [q.question for q in w.qa[::5]]
    vectorizer = TfidfVectorizer(token_pattern=r"[a-z0-9]+").fit(texts)
    want = (vectorizer.transform(questions) @ vectorizer.transform(texts).T).toarray()
    assert np.allclose(rag.TfidfRetriever(texts).scores(questions).numpy(), want, atol=1e-6)


def test_search_returns_the_best_first(small):
    w, chunks, texts = small
    bm25 = rag.BM25Retriever(texts)
    questions = [q.question for q in w.qa[:20]]
    values, ids = bm25.search(questions, k=5)
    full = bm25.scores(questions)
    assert torch.equal(values, full.gather(1, ids)) and (values[:, :-1] >= values[:, 1:]).all()
    assert torch.equal(values[:, 0], full.max(dim=1).values)
    with pytest.raises(ValueError):
        bm25.scores("one string")


# --- vector search --------------------------------------------------------------------------------------------------
def test_top_k_keeps_ties_in_index_order():
    values, ids = rag.top_k(torch.tensor([[1.0, 3.0, 3.0, 0.0, 3.0]]), 3)
    assert ids.tolist() == [[1, 2, 4]] and values.tolist() == [[3.0, 3.0, 3.0]]
    assert rag.top_k(torch.zeros(2, 3), 10)[1].shape == (2, 3)


def test_cosine_top_k_equals_faiss_flat_and_ignores_lengths():
    g = torch.Generator().manual_seed(0)
    vectors, queries = torch.randn(500, 24, generator=g), torch.randn(40, 24, generator=g)
    scores, ids = rag.cosine_top_k(queries, vectors, 7)
    scaled = rag.cosine_top_k(3 * queries, vectors * torch.rand(500, 1, generator=g) + 0.0, 7)
    assert torch.equal(ids, scaled[1])
    flat_scores, flat_ids = rag.faiss_search(rag.faiss_flat(F.normalize(vectors, dim=1)), F.normalize(queries, dim=1), 7)
    assert torch.equal(ids, flat_ids) and torch.allclose(scores, flat_scores, atol=1e-5)
    loop = [sorted(range(500), key=lambda j: -float(F.cosine_similarity(q, vectors[j], dim=0)))[:7] for q in queries]
    assert ids.tolist() == loop
    with pytest.raises(ValueError):
        rag.cosine_top_k(torch.randn(2, 5), vectors, 3)


def test_hnsw_sweep_recall_grows_with_ef_search():
    vectors, queries = rag.random_unit_vectors(4000, 8, seed=0), rag.random_unit_vectors(100, 8, seed=1)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    out = rag.hnsw_sweep(vectors, queries, k=10, ef_searches=(2, 8, 64), m=8, ef_construction=16, repeat=1)
    recalls = [r[1] for r in out["rows"]]
    assert recalls == sorted(recalls) and recalls[-1] > 0.95 and recalls[0] < recalls[-1]
    assert out["flat_ms"] > 0 and out["build_seconds"] >= 0


def test_vector_store_persists_filters_and_searches_exactly(small, tmp_path):
    _, chunks, _ = small
    g = torch.Generator().manual_seed(1)
    vectors = F.normalize(torch.randn(len(chunks), 16, generator=g), dim=1)
    rag.VectorStore.create(tmp_path, chunks, vectors)
    store = rag.VectorStore(tmp_path)                                # opened again from the folder
    assert len(store) == len(chunks)
    query = torch.randn(16, generator=g)
    rows = store.search(query, k=5)
    want_scores, want_ids = rag.cosine_top_k(query[None], vectors, 5)
    assert [r["id"] for r in rows] == [chunks[i].id for i in want_ids[0].tolist()]
    assert np.allclose([r["score"] for r in rows], want_scores[0].numpy(), atol=1e-5)
    assert set(rows[0]) == {"id", "doc_id", "title", "text", "kind", "version", "start", "end", "score"}
    doc = chunks[3].doc_id
    only = store.search(query, k=50, where=f"doc_id = '{doc}' AND kind = 'town'")
    assert only and all(r["doc_id"] == doc for r in only)
    assert len(only) == sum(c.doc_id == doc for c in chunks)
    with pytest.raises(ValueError):
        rag.VectorStore.create(tmp_path / "other", chunks[:3], vectors)


# --- dense retrievers and fusion ------------------------------------------------------------------------------------
def test_rank_fusion_by_hand():
    a = torch.tensor([[9.0, 1.0, 5.0]])                 # ranks 1, 3, 2
    b = torch.tensor([[0.1, 0.7, 0.8]])                 # ranks 3, 2, 1
    fused = rag.rank_fusion([a, b], k=60)
    want = [1 / 61 + 1 / 63, 1 / 63 + 1 / 62, 1 / 62 + 1 / 61]
    assert torch.allclose(fused, torch.tensor([want]))
    assert torch.allclose(rag.rank_fusion([a, b], k=0, weights=[2.0, 0.0]), torch.tensor([[2 / 1, 2 / 3, 2 / 2]]))
    assert torch.equal(rag.rank_fusion([a * 100 + 3, b]), fused)      # only ranks count
    with pytest.raises(ValueError):
        rag.rank_fusion([a, torch.zeros(1, 4)])
    with pytest.raises(ValueError):
        rag.rank_fusion([])


def test_dense_retriever_with_a_toy_encoder():
    def encode(texts):                                      # letters a, b, c counted: a bag-of-letters vector
        return torch.tensor([[t.count(c) for c in "abc"] for t in texts], dtype=torch.float) + 1e-3

    dense = rag.DenseRetriever(encode, ["aaa", "bbb", "ab", "c"])
    assert torch.allclose(dense.vectors.norm(dim=1), torch.ones(4))
    assert dense.search(["a"], k=2)[1].tolist() == [[0, 2]]
    again = rag.DenseRetriever(encode, vectors=dense.vectors * 5)
    assert torch.allclose(again.scores(["b"]), dense.scores(["b"]))
    with pytest.raises(ValueError):
        rag.DenseRetriever(encode)


def test_minilm_encoder_equals_the_chapter_09_embeddings(small):
    from llmcourse.bert.minilm import load_minilm, sentence_embeddings

    _, _, texts = small
    bert, tokenizer = load_minilm()
    want = sentence_embeddings(bert, tokenizer, texts[:12])
    got = rag.minilm_encoder(batch_size=5)(texts[:12])
    assert got.shape == (12, 384) and torch.allclose(got, want, atol=1e-5)


def test_story_bert_encoder_gives_unit_vectors(small):
    _, _, texts = small
    vectors = rag.story_bert_encoder(batch_size=7)(texts[:20])
    assert vectors.shape == (20, 64) and torch.allclose(vectors.norm(dim=1), torch.ones(20), atol=1e-5)


# --- the reranker ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_tokenizer():
    from llmcourse.bert import story_tokenizer

    return story_tokenizer(["Who is the owner of the Mill ? The Mill is run by a man : ."])


def test_pair_tokenizer_anonymises_names_across_the_pair(base_tokenizer):
    tok = rag.PairTokenizer(base_tokenizer, extra=["trade"], slots=3)
    ids, segments, lengths = tok.encode_pairs(["Who is the owner of Brenna Mill ?", "Who is Ulda ?"],
                                              ["Ulda Harrow : Ulda is the owner of Brenna Mill .",
                                               "Ulda Harrow : Ulda is run by a man ."])
    assert tok.decode(ids[0]) == "[CLS] Who is the owner of [E0] Mill ? [SEP] [E1] [E2] : [E1] is the owner of [E0] Mill . [SEP]"
    assert tok.decode(ids[1]) == "[CLS] Who is [E0] ? [SEP] [E0] [E1] : [E0] is run by a man . [SEP]"
    assert lengths.tolist() == [len(tok.decode(ids[0]).split()), len(tok.decode(ids[1]).split())]
    row = tok.decode(ids[0]).split()
    shared = {"is", "the", "owner", "of", "[E0]", "Mill"}
    first_sep = row.index("[SEP]")
    for j, (word, s) in enumerate(zip(row, segments[0].tolist())):
        side = 0 if j <= first_sep else 1
        assert s == side + 2 * (word in shared), (j, word, s)
    assert tok.vocab["trade"] == base_tokenizer.vocab_size and tok.vocab_size == base_tokenizer.vocab_size + 1 + 3 + 4
    plain = rag.PairTokenizer(base_tokenizer, mark_shared=False).encode_pairs(["Who is Ulda ?"], ["Ulda ."])[1]
    assert plain.tolist() == [[0, 0, 0, 0, 0, 0, 1, 1, 1]]
    many = tok.encode_pairs(["A B C D"], ["D"])[0]
    assert tok.decode(many[0]) == "[CLS] [E0] [E1] [E2] [UNK] [SEP] [UNK] [SEP]"      # past 3 slots: [UNK]
    cut = tok.encode_pairs(["Who is Ulda ?"], ["Ulda is the owner of the mill ."], max_len=8)[0]
    assert cut.shape == (1, 8) and cut[0, -1].item() == tok.sep


def test_pair_tokenizer_numbers_become_shapes_and_plurals_match(base_tokenizer):
    tok = rag.PairTokenizer(base_tokenizer, extra=["Owners", "owner", "year"])
    ids, segments, _ = tok.encode_pairs(["Who is the owner of the Mill ?"], ["Owners : 7 : 1901 : 20 : 123456 year ."])
    assert tok.decode(ids[0]).split()[10:] == ["Owners", ":", "[N1]", ":", "[N4]", ":", "[N2]", ":", "[N4]", "year",
                                               ".", "[SEP]"]
    marks = dict(zip(tok.decode(ids[0]).split(), segments[0].tolist()))
    assert marks["owner"] == 2 and marks["Owners"] == 3            # lower case, plural s dropped: the same word
    assert marks["year"] == 1 and marks["[N4]"] == 1 and marks["Mill"] == 0


def test_cross_encoder_starts_from_the_story_bert():
    from llmcourse.zoo import load_pretrained

    base = load_pretrained("bert-stories")
    model, tok = rag.cross_encoder_from_story_bert(["trade", "mayor"], slots=4)
    old = base.model.bert.state_dict()
    new = model.bert.state_dict()
    V = base.tokenizer.vocab_size
    assert tok.vocab_size == V + 2 + 4 + 4 == model.bert.config.vocab_size and model.bert.config.n_segments == 4
    assert torch.equal(new["tok_emb.weight"][:V], old["tok_emb.weight"])
    assert torch.equal(new["seg_emb.weight"], old["seg_emb.weight"].repeat(2, 1))
    assert all(torch.equal(new[k], old[k]) for k in old if k not in ("tok_emb.weight", "seg_emb.weight"))
    again, _ = rag.cross_encoder_from_story_bert(["trade", "mayor"], slots=4)
    assert torch.equal(again.bert.tok_emb.weight, model.bert.tok_emb.weight)          # seeded


def test_training_groups_and_rerank():
    candidates = torch.tensor([[5, 1, 2, 3], [0, 4, 6, 7], [1, 2, 3, 4]])
    groups = rag.training_groups(["a", "b", "c"], [[2], [9], []], candidates, negatives=2, seed=0)
    assert [g[0] for g in groups] == [0, 1] and groups[0][1][0] == 2 and groups[1][1][0] == 9
    assert all(len(g) == 3 and len(set(g)) == 3 for _, g in groups) and 2 not in groups[0][1][1:]
    assert set(groups[1][1][1:]) <= {0, 4, 6, 7}
    assert rag.rerank(torch.tensor([[7, 3, 5]]), torch.tensor([[0.1, 2.0, 2.0]])).tolist() == [[3, 5, 7]]


def test_cross_encoder_learns_which_passage_answers(small):
    """A short fine-tuning on the small World's questions puts its gold chunk first far more often than chance."""
    w, chunks, texts = small
    questions = [q.question for q in w.qa]
    gold = rag.gold_chunks(w.qa, chunks)
    same_doc = torch.tensor([[i for i, c in enumerate(chunks) if c.doc_id == q.doc_id][:4] for q in w.qa])
    extra = rag.frequent_words(__import__("llmcourse.zoo", fromlist=["x"]).load_pretrained("bert-stories").tokenizer,
                               texts + questions, min_texts=5)
    model, tok = rag.cross_encoder_from_story_bert(extra)
    groups = rag.training_groups(questions, gold, same_doc, negatives=3)
    losses = rag.train_cross_encoder(model, tok, questions, texts, groups, steps=120, batch_size=8, lr=3e-3,
                                     progress=False)
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:10])
    scores = rag.cross_encoder_scores(model, tok, questions, texts, same_doc, batch_size=50)
    assert scores.shape == same_doc.shape
    top = rag.rerank(same_doc, scores)[:, 0].tolist()
    hits = sum(t in g for t, g in zip(top, gold)) / len(gold)
    assert hits > 0.5, hits              # chance: about 1 in 4 (gold among 4 sentences of its document)


# --- prompts and citations ------------------------------------------------------------------------------------------
def test_build_prompt_fills_the_budget_in_rank_order():
    passages = [("a", "x" * 10), ("b", "y" * 20), ("c", "z" * 3)]
    head = len("Q: q?\n") + len("\nA: ")
    for budget in range(0, 60):
        p = rag.build_prompt("q?", passages, budget)
        assert len(p.text) <= max(budget, head) and p.text.startswith("Q: q?\n") and p.text.endswith("\nA: ")
        taken = [s for s, _ in passages][:len(p.sources)]
        assert list(p.sources) == taken                                  # a prefix of the ranking
        if len(p.sources) < 3:                                           # the next one would not have fitted
            nxt = passages[len(p.sources)][1]
            assert len(p.text) + len(nxt) + (1 if p.sources else 0) > budget
        for i, (source, text) in enumerate(passages[:len(p.sources)]):
            assert p.passage(i) == text
    assert rag.build_prompt("q?", passages, head + 10).sources == ("a",)
    assert rag.build_prompt("q?", passages, head + 9).sources == ()
    assert rag.build_prompt("q?", passages, head + 31).sources == ("a", "b")
    assert rag.build_prompt("q?", passages, head + 35).text == "Q: q?\n" + "x" * 10 + " " + "y" * 20 + " zzz\nA: "
    with pytest.raises(ValueError):
        rag.build_prompt("q?", passages, -1)


def test_cite_names_the_passage_holding_the_answer():
    p = rag.build_prompt("Who?", [("d#1", "Ada owns it."), ("d#0", "Bo and Ada.")], 100)
    assert rag.cite("Ada", p) == "d#1" and rag.cite("Bo", p) == "d#0"
    assert rag.cite("Cy", p) is None and rag.cite("", p) is None and rag.cite("Who", p) is None


def test_answer_goes_through_the_reader():
    from llmcourse.finetune import generate_answers

    reader = rag.load_reader()
    assert rag.READER == "gpt-reader"
    w = world(seed=0)
    chunks = rag.chunk_documents(w.documents)
    qa = random.Random(0).sample(list(w.qa), 6)
    prompts = [rag.build_prompt(q.question, [(chunks[g[0]].id, chunks[g[0]].text)], 116)
               for q, g in zip(qa, rag.gold_chunks(qa, chunks))]
    assert rag.answer(reader, prompts) == generate_answers(reader.model, reader.tokenizer, [p.text for p in prompts])
