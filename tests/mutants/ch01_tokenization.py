"""Typical wrong answers to the Chapter 01 exercise (byte-level BPE and WordPiece).

``MUTANTS[name] = {grade_id of a solution cell: the wrong source of that cell}``. The grading
round trip (``tests/test_exercises.py``) puts each mutant into the solution notebook, grades it,
and checks that it scores below full marks. The comment above each mutant names the test cell
meant to catch it.
"""

_COUNT_PAIRS_FRESH_DICT = '''
def count_pairs(ids, counts=None):
    counts = {}  # ignores the dict it was given: counting over many chunks loses earlier counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
'''

_MERGE_FROM_THE_RIGHT = '''
def merge_pair(ids, pair, new_id):
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
    return out[::-1]
'''

_MERGE_OVERLAPPING = '''
def merge_pair(ids, pair, new_id):
    # does not skip the id a match used up: [1, 1, 1] with (1, 1) gives [256, 256]
    out = []
    for k in range(len(ids)):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            out.append(new_id)
        elif k > 0 and (ids[k - 1], ids[k]) == pair:
            continue
        else:
            out.append(ids[k])
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
        for s in seqs:
            count_pairs(s, counts)
        if not counts:
            break
        best = max(counts, key=counts.get)
        merges[best] = new_id
        seqs = [merge_pair(s, best, new_id) for s in seqs]
    return merges
'''

_TRAIN_ACROSS_CHUNKS = '''
def train_bpe(chunks, vocab_size):
    # joins the chunks into one sequence, so merges can cross chunk boundaries
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    seq = list("".join(chunks).encode("utf-8"))
    merges = {}
    for new_id in range(256, vocab_size):
        counts = count_pairs(seq)
        if not counts:
            break
        top = max(counts.values())
        best = min(p for p, c in counts.items() if c == top)
        merges[best] = new_id
        seq = merge_pair(seq, best, new_id)
    return merges
'''

_TRAIN_DISTINCT_CHUNKS = '''
def train_bpe(chunks, vocab_size):
    # de-duplicates the chunks but forgets to weight them by how often they occur
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
    seqs = [list(c.encode("utf-8")) for c in dict.fromkeys(chunks)]
    merges = {}
    for new_id in range(256, vocab_size):
        counts = {}
        for s in seqs:
            count_pairs(s, counts)
        if not counts:
            break
        top = max(counts.values())
        best = min(p for p, c in counts.items() if c == top)
        merges[best] = new_id
        seqs = [merge_pair(s, best, new_id) for s in seqs]
    return merges
'''

_ENCODE_BY_FREQUENCY = '''
def encode_bpe(text, merges):
    # merges the known pair that is most frequent in this text, instead of the one learnt first
    ids = list(text.encode("utf-8"))
    while True:
        counts = {p: c for p, c in count_pairs(ids).items() if p in merges}
        if not counts:
            return ids
        best = max(counts, key=counts.get)
        ids = merge_pair(ids, best, merges[best])
'''

_ENCODE_ONE_PASS_LEFT_TO_RIGHT = '''
def encode_bpe(text, merges):
    # merges the leftmost known pair first, whatever its rank
    ids = list(text.encode("utf-8"))
    while True:
        pairs = [p for p in zip(ids, ids[1:]) if p in merges]
        if not pairs:
            return ids
        ids = merge_pair(ids, pairs[0], merges[pairs[0]])
'''

_DECODE_EACH_TOKEN = '''
def decode_bpe(ids, merges):
    # decodes every token on its own: a character split over two tokens becomes two U+FFFD
    spelled = {b: bytes([b]) for b in range(256)}
    for (a, b), new_id in merges.items():
        spelled[new_id] = spelled[a] + spelled[b]
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
    return "".join(spelled[i].decode("utf-8", errors="replace") for i in ids)
'''

_DECODE_STRICT = '''
def decode_bpe(ids, merges):
    # errors="ignore": an incomplete character silently disappears instead of becoming U+FFFD
    spelled = {b: bytes([b]) for b in range(256)}
    for (a, b), new_id in merges.items():
        spelled[new_id] = spelled[a] + spelled[b]
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
    return b"".join(spelled[i] for i in ids).decode("utf-8", errors="ignore")
'''

_DECODE_REVERSED_PAIR = '''
def decode_bpe(ids, merges):
    # builds a merged token as b + a: the bytes of every merge come out in the wrong order
    spelled = {b: bytes([b]) for b in range(256)}
    for (a, b), new_id in merges.items():
        spelled[new_id] = spelled[b] + spelled[a]
    for i in ids:
        if i not in spelled:
            raise ValueError(f"unknown id {i}")
    return b"".join(spelled[i] for i in ids).decode("utf-8", errors="replace")
'''

_WORDPIECE_NO_HASHES = '''
def wordpiece_word(word, vocab, unk_token="[UNK]", max_chars=100):
    # looks continuation pieces up without their "##" prefix
    if len(word) > max_chars:
        return [unk_token]
    out, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            if word[start:end] in vocab:
                out.append(word[start:end])
                break
        else:
            return [unk_token]
        start = end
    return out
'''

_WORDPIECE_SHORTEST = '''
def wordpiece_word(word, vocab, unk_token="[UNK]", max_chars=100):
    # shortest match first instead of longest
    if len(word) > max_chars:
        return [unk_token]
    out, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                out.append(piece)
                break
        else:
            return [unk_token]
        start = end
    return out
'''

_WORDPIECE_KEEPS_PARTIAL = '''
def wordpiece_word(word, vocab, unk_token="[UNK]", max_chars=100):
    # when a position has no piece, emits [UNK] for the rest but keeps the pieces found so far
    if len(word) > max_chars:
        return [unk_token]
    out, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                out.append(piece)
                break
        else:
            return out + [unk_token]
        start = end
    return out
'''

_WORDPIECE_NO_MAX_CHARS = '''
def wordpiece_word(word, vocab, unk_token="[UNK]", max_chars=100):
    # forgets the max_chars limit
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

MUTANTS: dict[str, dict[str, str]] = {
    # test_count_pairs_hidden: adding to a given dict in place
    "count_pairs_ignores_given_dict": {"count_pairs": _COUNT_PAIRS_FRESH_DICT},
    # test_merge_pair_hidden: [1, 1, 1] with (1, 1) -> [256, 1]
    "merge_right_to_left": {"merge_pair": _MERGE_FROM_THE_RIGHT},
    # test_merge_pair_hidden (and train/encode through it)
    "merge_overlapping": {"merge_pair": _MERGE_OVERLAPPING},
    # test_train_bpe: the "aaabdaaabac" example needs a merge of a merged id
    "train_counts_never_updated": {"train_bpe": _TRAIN_COUNTS_ONCE},
    # test_train_bpe: (256, 97) and (97, 98) tie in the "aaabdaaabac" example
    "train_tie_first_seen": {"train_bpe": _TRAIN_FIRST_SEEN_TIE},
    # test_train_bpe_hidden: ["ab", "b", "a"] must not merge (98, 97)
    "train_merges_across_chunks": {"train_bpe": _TRAIN_ACROSS_CHUNKS},
    # test_train_bpe_hidden: repeated chunks count every time
    "train_ignores_repeats": {"train_bpe": _TRAIN_DISTINCT_CHUNKS},
    # test_encode_bpe / hidden: "abc" and "abcab" with (98, 99) learnt before (97, 98)
    "encode_by_frequency": {"encode_bpe": _ENCODE_BY_FREQUENCY},
    # test_encode_bpe: the leftmost pair is not the first learnt
    "encode_leftmost_first": {"encode_bpe": _ENCODE_ONE_PASS_LEFT_TO_RIGHT},
    # test_decode_bpe_hidden: 한 split over two tokens
    "decode_each_token_separately": {"decode_bpe": _DECODE_EACH_TOKEN},
    # test_decode_bpe_hidden: [255, 104, 105] -> "\ufffdhi"
    "decode_errors_ignore": {"decode_bpe": _DECODE_STRICT},
    # test_decode_bpe: [258, 100] -> "aaabd"
    "decode_pair_reversed": {"decode_bpe": _DECODE_REVERSED_PAIR},
    # test_wordpiece_word: "tokens" -> ["token", "##s"]
    "wordpiece_without_hashes": {"wordpiece_word": _WORDPIECE_NO_HASHES},
    # test_wordpiece_word: "tokenizers" -> ["token", "##izer", "##s"]
    "wordpiece_shortest_match": {"wordpiece_word": _WORDPIECE_SHORTEST},
    # test_wordpiece_word: "toke" -> ["[UNK]"], not ["to", "[UNK]"]
    "wordpiece_keeps_partial_pieces": {"wordpiece_word": _WORDPIECE_KEEPS_PARTIAL},
    # test_wordpiece_word: max_chars=5
    "wordpiece_ignores_max_chars": {"wordpiece_word": _WORDPIECE_NO_MAX_CHARS},
}
