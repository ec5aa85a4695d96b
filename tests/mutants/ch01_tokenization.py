"""Typical wrong answers to the Chapter 01 exercise (byte-level BPE and WordPiece).

``MUTANTS[name] = {grade_id of a solution cell: the wrong source of that cell}``. The grading
round trip (``tests/test_exercises.py``) puts each mutant into the solution notebook, grades it,
and checks that it scores below full marks. The comment above each mutant names the test cell
meant to catch it. ``EXPECTED_ZERO`` names test cells that must score 0 (forbidden calls).

``BOOK_COUNTERPARTS``: the chapter's own versions of each graded idea, under other names — its
``pair_counts``, ``merge_ids``, ``train_bpe_from_scratch``, ``encode_from_scratch`` and
``decode_from_scratch`` (code cells), the package's ``merge`` and ``_bpe`` (shown with
``show_source``) and ``longest_match_first``. The copy-proof test pastes each of them as the
answer and checks that it loses points. (The package's ``BPETokenizer.train``,
``BPETokenizer.decode_bytes`` and ``WordPieceTokenizer.tokenize_word``, shown as methods, answer
none of the tasks either: the exercise asks for a count-updating merge, a rank-table encoder, a
streaming decoder and the WordPiece split with the fewest pieces.)
"""

_COUNT_PAIRS_FRESH_DICT = '''
def count_pairs(ids, counts=None, weight=1):
    counts = {}  # ignores the dict it was given: counting over many chunks loses earlier counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts
'''

_COUNT_PAIRS_NO_WEIGHT = '''
def count_pairs(ids, counts=None, weight=1):
    # every occurrence adds 1, whatever the weight
    if counts is None:
        counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
'''

# A merge that is wrong in its order, with counts kept right for the list it returns (recounted),
# so that only the merge itself is wrong.
_RECOUNT = '''
def _recount(ids, out, counts, weight):
    for old in zip(ids, ids[1:]):
        counts[old] -= weight
    for new in zip(out, out[1:]):
        counts[new] = counts.get(new, 0) + weight
    for key in [k for k, v in counts.items() if v == 0]:
        del counts[key]
'''

_MERGE_FROM_THE_RIGHT = _RECOUNT + '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # scans right to left: [1, 1, 1] with (1, 1) gives [1, 256] instead of [256, 1]
    out = []
    k = len(ids) - 1
    while k >= 0:
        if k > 0 and (ids[k - 1], ids[k]) == pair:
            out.append(new_id)
            k -= 2
        else:
            out.append(ids[k])
            k -= 1
    out = out[::-1]
    _recount(ids, out, counts, weight)
    return out
'''

_MERGE_OVERLAPPING = _RECOUNT + '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # does not skip the id a match used up: [1, 1, 1] with (1, 1) gives [256, 256]
    out = []
    for k in range(len(ids)):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            out.append(new_id)
        elif k > 0 and (ids[k - 1], ids[k]) == pair:
            continue
        else:
            out.append(ids[k])
    _recount(ids, out, counts, weight)
    return out
'''

_MERGE_LEFT_NEIGHBOUR_FROM_IDS = '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # takes the left neighbour from `ids`, not from the merged list: in [a, b, a, b] the second
    # match's left neighbour is the new id, not b
    def shift(key, change):
        counts[key] = counts.get(key, 0) + change
        if counts[key] == 0:
            del counts[key]
    out, k = [], 0
    while k < len(ids):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            shift(pair, -weight)
            if k > 0:
                shift((ids[k - 1], ids[k]), -weight)
                shift((ids[k - 1], new_id), weight)
            if k + 2 < len(ids):
                shift((ids[k + 1], ids[k + 2]), -weight)
                shift((new_id, ids[k + 2]), weight)
            out.append(new_id)
            k += 2
        else:
            out.append(ids[k])
            k += 1
    return out
'''

_MERGE_KEEPS_ZEROS = '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # right counts, but pairs that no longer occur stay in the dict with count 0
    out, k = [], 0
    while k < len(ids):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            counts[pair] -= weight
            if out:
                counts[(out[-1], ids[k])] -= weight
                counts[(out[-1], new_id)] = counts.get((out[-1], new_id), 0) + weight
            if k + 2 < len(ids):
                counts[(ids[k + 1], ids[k + 2])] -= weight
                counts[(new_id, ids[k + 2])] = counts.get((new_id, ids[k + 2]), 0) + weight
            out.append(new_id)
            k += 2
        else:
            out.append(ids[k])
            k += 1
    return out
'''

_MERGE_IGNORES_WEIGHT = '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # every change is 1, whatever the weight the sequence was counted with
    def shift(key, change):
        counts[key] = counts.get(key, 0) + change
        if counts[key] == 0:
            del counts[key]
    out, k = [], 0
    while k < len(ids):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            shift(pair, -1)
            if out:
                shift((out[-1], ids[k]), -1)
                shift((out[-1], new_id), 1)
            if k + 2 < len(ids):
                shift((ids[k + 1], ids[k + 2]), -1)
                shift((new_id, ids[k + 2]), 1)
            out.append(new_id)
            k += 2
        else:
            out.append(ids[k])
            k += 1
    return out
'''

_MERGE_COUNTS_UNTOUCHED = '''
def merge_pair(ids, pair, new_id, counts, weight=1):
    # the book's merge: right list, but the counts are never updated
    out, k = [], 0
    while k < len(ids):
        if tuple(ids[k:k + 2]) == pair:
            out.append(new_id)
            k += 2
        else:
            out.append(ids[k])
            k += 1
    return out
'''

_TRAIN_COUNTS_ONCE = '''
def train_bpe(chunks, vocab_size):
    # counts the pairs once and never updates them after a merge: merges of merged ids never appear
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    counts = {}
    for chunk in chunks:
        count_pairs(list(chunk.encode("utf-8")), counts)
    ranked = sorted(counts, key=lambda p: (-counts[p], p))
    return {pair: 256 + k for k, pair in enumerate(ranked[: vocab_size - 256])}
'''

_TRAIN_FIRST_SEEN_TIE = '''
def train_bpe(chunks, vocab_size):
    # ties go to the pair seen first in the text (max over a dict), not to the smallest pair
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    seqs = [list(c.encode("utf-8")) for c in chunks]
    merges = {}
    for new_id in range(256, vocab_size):
        counts = {}
        for s in seqs:  # counted again from scratch at every step (allowed, only slower)
            count_pairs(s, counts)
        if not counts:
            break
        best = max(counts, key=counts.get)
        merges[best] = new_id
        seqs = [merge_pair(s, best, new_id, counts) for s in seqs]
    return merges
'''

_TRAIN_ACROSS_CHUNKS = '''
def train_bpe(chunks, vocab_size):
    # joins the chunks into one sequence, so merges can cross chunk boundaries
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    seq = list("".join(chunks).encode("utf-8"))
    counts = count_pairs(seq)
    merges = {}
    for new_id in range(256, vocab_size):
        if not counts:
            break
        top = max(counts.values())
        best = min(p for p, c in counts.items() if c == top)
        merges[best] = new_id
        seq = merge_pair(seq, best, new_id, counts)
    return merges
'''

_TRAIN_DISTINCT_CHUNKS = '''
def train_bpe(chunks, vocab_size):
    # de-duplicates the chunks but forgets to weight them by how often they occur
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    seqs = [list(c.encode("utf-8")) for c in dict.fromkeys(chunks)]
    counts = {}
    for s in seqs:
        count_pairs(s, counts)
    merges = {}
    for new_id in range(256, vocab_size):
        if not counts:
            break
        top = max(counts.values())
        best = min(p for p, c in counts.items() if c == top)
        merges[best] = new_id
        seqs = [merge_pair(s, best, new_id, counts) for s in seqs]
    return merges
'''

_ENCODE_BY_FREQUENCY = '''
def encode_bpe(text, ranks):
    # joins the pair that is most frequent in this text, instead of the one with the lowest rank
    parts = [bytes([b]) for b in text.encode("utf-8")]
    while True:
        seen = {}
        for a, b in zip(parts, parts[1:]):
            if a + b in ranks:
                seen[(a, b)] = seen.get((a, b), 0) + 1
        if not seen:
            return [ranks[p] for p in parts]
        a, b = max(seen, key=seen.get)
        k = next(k for k in range(len(parts) - 1) if (parts[k], parts[k + 1]) == (a, b))
        parts[k:k + 2] = [a + b]
'''

_ENCODE_LEFTMOST_FIRST = '''
def encode_bpe(text, ranks):
    # joins the leftmost pair that is a token, whatever its rank
    parts = [bytes([b]) for b in text.encode("utf-8")]
    while True:
        k = next((k for k in range(len(parts) - 1) if parts[k] + parts[k + 1] in ranks), None)
        if k is None:
            return [ranks[p] for p in parts]
        parts[k:k + 2] = [parts[k] + parts[k + 1]]
'''

_ENCODE_RIGHTMOST_ON_TIES = '''
def encode_bpe(text, ranks):
    # the lowest rank, but the rightmost occurrence: "aaa" gives a|aa instead of aa|a
    parts = [bytes([b]) for b in text.encode("utf-8")]
    while True:
        found = [(ranks[parts[k] + parts[k + 1]], -k) for k in range(len(parts) - 1) if parts[k] + parts[k + 1] in ranks]
        if not found:
            return [ranks[p] for p in parts]
        k = -min(found)[1]
        parts[k:k + 2] = [parts[k] + parts[k + 1]]
'''

_ENCODE_LONGEST_TOKEN = '''
def encode_bpe(text, ranks):
    # greedy longest token of the table from the left: not how BPE builds its tokens
    raw = text.encode("utf-8")
    out, i = [], 0
    while i < len(raw):
        j = max(j for j in range(i + 1, len(raw) + 1) if raw[i:j] in ranks)
        out.append(ranks[raw[i:j]])
        i = j
    return out
'''

_DECODE_EACH_TOKEN = '''
def decode_stream(ids, ranks):
    # decodes every token on its own: a character split over two tokens becomes two U+FFFD
    spelled = {i: t for t, i in ranks.items()}
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
    return [spelled[i].decode("utf-8", errors="replace") for i in ids]
'''

_DECODE_ALL_AT_THE_END = '''
def decode_stream(ids, ranks):
    # right text, but nothing is shown until the last id
    spelled = {i: t for t, i in ranks.items()}
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
    if not ids:
        return []
    return [""] * (len(ids) - 1) + [b"".join(spelled[i] for i in ids).decode("utf-8", errors="replace")]
'''

_DECODE_DROPS_THE_CUT_END = '''
def decode_stream(ids, ranks):
    # a character cut off at the end disappears instead of showing as U+FFFD
    spelled = {i: t for t, i in ranks.items()}
    shown, waiting = [], b""
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
        waiting += spelled[i]
        ready = len(waiting)
        for back in range(1, min(4, len(waiting)) + 1):
            byte = waiting[-back]
            if byte >> 6 != 2:
                size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                if size > back:
                    ready = len(waiting) - back
                break
        shown.append(waiting[:ready].decode("utf-8"))
        waiting = waiting[ready:]
    return shown
'''

_DECODE_THREE_BYTES_AT_MOST = '''
def decode_stream(ids, ranks):
    # knows 1-, 2- and 3-byte characters only: a 4-byte emoji split over tokens comes out broken
    spelled = {i: t for t, i in ranks.items()}
    shown, waiting = [], b""
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
        waiting += spelled[i]
        ready = len(waiting)
        for back in range(1, min(3, len(waiting)) + 1):
            byte = waiting[-back]
            if byte >> 6 != 2:
                size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3
                if size > back:
                    ready = len(waiting) - back
                break
        shown.append(waiting[:ready].decode("utf-8", errors="replace"))
        waiting = waiting[ready:]
    if waiting:
        shown[-1] += waiting.decode("utf-8", errors="replace")
    return shown
'''

_DECODE_INCREMENTAL_DECODER = '''
import codecs

def decode_stream(ids, ranks):
    # Python's incremental decoder does the whole task: not allowed here
    spelled = {i: t for t, i in ranks.items()}
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out = []
    for k, i in enumerate(ids):
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
        out.append(decoder.decode(spelled[i], final=k == len(ids) - 1))
    return out
'''

_PIECES_LONGEST_MATCH_FIRST = '''
def fewest_pieces(word, vocab, unk_token="[UNK]"):
    # the chapter's greedy longest match first: more pieces than needed, or [UNK] where a split exists
    out, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                out.append(piece)
                break
        else:
            return [unk_token]
        start = end
    return out
'''

_PIECES_SHORTER_FIRST_ON_TIES = '''
def fewest_pieces(word, vocab, unk_token="[UNK]"):
    # the fewest pieces, but ties go to the shorter first piece
    n = len(word)
    if n == 0:
        return []
    piece = lambda i, j: word[i:j] if i == 0 else "##" + word[i:j]
    fewest = [n + 1] * (n + 1)
    fewest[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n + 1):
            if fewest[j] + 1 < fewest[i] and piece(i, j) in vocab:
                fewest[i] = fewest[j] + 1
    if fewest[0] > n:
        return [unk_token]
    out, i = [], 0
    while i < n:
        j = next(j for j in range(i + 1, n + 1) if fewest[j] == fewest[i] - 1 and piece(i, j) in vocab)
        out.append(piece(i, j))
        i = j
    return out
'''

_PIECES_NO_HASHES = '''
def fewest_pieces(word, vocab, unk_token="[UNK]"):
    # looks every piece up without the "##" prefix
    n = len(word)
    if n == 0:
        return []
    fewest = [n + 1] * (n + 1)
    fewest[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n + 1):
            if fewest[j] + 1 < fewest[i] and word[i:j] in vocab:
                fewest[i] = fewest[j] + 1
    if fewest[0] > n:
        return [unk_token]
    out, i = [], 0
    while i < n:
        j = next(j for j in range(n, i, -1) if fewest[j] == fewest[i] - 1 and word[i:j] in vocab)
        out.append(word[i:j])
        i = j
    return out
'''

_PIECES_HASHES_EVERYWHERE = '''
def fewest_pieces(word, vocab, unk_token="[UNK]"):
    # looks the first piece up with "##" too
    n = len(word)
    if n == 0:
        return []
    fewest = [n + 1] * (n + 1)
    fewest[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n + 1):
            if fewest[j] + 1 < fewest[i] and "##" + word[i:j] in vocab:
                fewest[i] = fewest[j] + 1
    if fewest[0] > n:
        return [unk_token]
    out, i = [], 0
    while i < n:
        j = next(j for j in range(n, i, -1) if fewest[j] == fewest[i] - 1 and "##" + word[i:j] in vocab)
        out.append("##" + word[i:j])
        i = j
    return out
'''

MUTANTS: dict[str, dict[str, str]] = {
    # test_count_pairs_hidden: adding to a given dict in place
    "count_pairs_ignores_given_dict": {"count_pairs": _COUNT_PAIRS_FRESH_DICT},
    # test_count_pairs: [7, 7, 7] with weight=5
    "count_pairs_ignores_weight": {"count_pairs": _COUNT_PAIRS_NO_WEIGHT},
    # test_merge_pair_hidden: [1, 1, 1] with (1, 1) -> [256, 1]
    "merge_right_to_left": {"merge_pair": _MERGE_FROM_THE_RIGHT},
    # test_merge_pair_hidden (and train through it)
    "merge_overlapping": {"merge_pair": _MERGE_OVERLAPPING},
    # test_merge_pair_hidden: [3, 5, 6, 5, 6, 4] with (5, 6)
    "merge_left_neighbour_from_ids": {"merge_pair": _MERGE_LEFT_NEIGHBOUR_FROM_IDS},
    # test_merge_pair: the pairs that no longer occur must leave the dict
    "merge_keeps_zero_counts": {"merge_pair": _MERGE_KEEPS_ZEROS},
    # test_merge_pair_hidden: weight=2
    "merge_ignores_weight": {"merge_pair": _MERGE_IGNORES_WEIGHT},
    # test_merge_pair: the counts must follow the merge
    "merge_counts_never_updated": {"merge_pair": _MERGE_COUNTS_UNTOUCHED},
    # test_train_bpe: the "aaabdaaabac" example needs a merge of a merged id
    "train_counts_never_updated": {"train_bpe": _TRAIN_COUNTS_ONCE},
    # test_train_bpe: (256, 97) and (97, 98) tie in the "aaabdaaabac" example
    "train_tie_first_seen": {"train_bpe": _TRAIN_FIRST_SEEN_TIE},
    # test_train_bpe_hidden: ["ab", "b", "a"] must not merge (98, 97)
    "train_merges_across_chunks": {"train_bpe": _TRAIN_ACROSS_CHUNKS},
    # test_train_bpe_hidden: repeated chunks count every time
    "train_ignores_repeats": {"train_bpe": _TRAIN_DISTINCT_CHUNKS},
    # test_encode_bpe_hidden: "abcab" with bc: 256 learnt before ab: 257
    "encode_by_frequency": {"encode_bpe": _ENCODE_BY_FREQUENCY},
    # test_encode_bpe_hidden: the leftmost pair is not the one with the lowest rank
    "encode_leftmost_first": {"encode_bpe": _ENCODE_LEFTMOST_FIRST},
    # test_encode_bpe: "aaa" -> [256, 97]
    "encode_rightmost_on_ties": {"encode_bpe": _ENCODE_RIGHTMOST_ON_TIES},
    # test_encode_bpe_hidden: "xyz" with only xyz in the table
    "encode_longest_token": {"encode_bpe": _ENCODE_LONGEST_TOKEN},
    # test_decode_stream: [256, 257] -> ["", "한!"]
    "decode_each_token_separately": {"decode_stream": _DECODE_EACH_TOKEN},
    # test_decode_stream: [104, 105] -> ["h", "i"]
    "decode_all_at_the_end": {"decode_stream": _DECODE_ALL_AT_THE_END},
    # test_decode_stream: [104, 237, 149] -> ["h", "", "\ufffd"]
    "decode_drops_the_cut_end": {"decode_stream": _DECODE_DROPS_THE_CUT_END},
    # test_decode_stream_hidden: the 4 bytes of 🐻, one id each
    "decode_three_bytes_at_most": {"decode_stream": _DECODE_THREE_BYTES_AT_MOST},
    # forbidden: codecs
    "decode_uses_codecs": {"decode_stream": _DECODE_INCREMENTAL_DECODER},
    # test_fewest_pieces: "abcde" -> ["ab", "##cde"]
    "pieces_longest_match_first": {"fewest_pieces": _PIECES_LONGEST_MATCH_FIRST},
    # test_fewest_pieces_hidden: ties go to the longer first piece
    "pieces_shorter_first_on_ties": {"fewest_pieces": _PIECES_SHORTER_FIRST_ON_TIES},
    # test_fewest_pieces: "bc" -> ["[UNK]"], and every later piece needs "##"
    "pieces_without_hashes": {"fewest_pieces": _PIECES_NO_HASHES},
    # test_fewest_pieces: the first piece has no "##"
    "pieces_hashes_everywhere": {"fewest_pieces": _PIECES_HASHES_EVERYWHERE},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "decode_uses_codecs": ["test_decode_stream", "test_decode_stream_hidden"],
}

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "count_pairs": ["pair_counts", "get_pair_counts"],
    "merge_pair": ["merge_ids", "merge"],
    "train_bpe": ["train_bpe_from_scratch"],
    "encode_bpe": ["encode_from_scratch", "_bpe"],
    "decode_stream": ["decode_from_scratch"],
    "fewest_pieces": ["longest_match_first"],
}
