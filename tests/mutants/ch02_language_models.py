"""Typical wrong answers to the Chapter 02 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions of the same idea under another name
(tests/test_copyproof.py pastes each of them as the answer; it must lose points).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # rows and columns swapped: counts[next, current]
    "counts_transposed": {"count_bigrams": '''
def count_bigrams(documents, vocab_size, boundary):
    if not 0 <= boundary < vocab_size:
        raise ValueError(f"bad boundary {boundary}")
    table = torch.zeros((vocab_size, vocab_size))
    for doc in documents:
        tokens = [int(t) for t in doc]
        if any(t == boundary or not 0 <= t < vocab_size for t in tokens):
            raise ValueError("bad id")
        framed = [boundary] + tokens + [boundary]
        for a, b in zip(framed, framed[1:]):
            table[b, a] += 1.0
    return table
'''},
    # all documents joined into one stream, framed once: pairs cross from one document into the next
    "counts_cross_documents": {"count_bigrams": '''
def count_bigrams(documents, vocab_size, boundary):
    if not 0 <= boundary < vocab_size:
        raise ValueError(f"bad boundary {boundary}")
    stream = [boundary]
    for doc in documents:
        tokens = [int(t) for t in doc]
        if any(t == boundary or not 0 <= t < vocab_size for t in tokens):
            raise ValueError("bad id")
        stream += tokens
    stream.append(boundary)
    table = torch.zeros((vocab_size, vocab_size))
    for a, b in zip(stream, stream[1:]):
        table[a, b] += 1.0
    return table
'''},
    # only the start of a document is marked: the model never learns where documents end
    "counts_no_end_boundary": {"count_bigrams": '''
def count_bigrams(documents, vocab_size, boundary):
    if not 0 <= boundary < vocab_size:
        raise ValueError(f"bad boundary {boundary}")
    table = torch.zeros((vocab_size, vocab_size))
    for doc in documents:
        tokens = [int(t) for t in doc]
        if any(t == boundary or not 0 <= t < vocab_size for t in tokens):
            raise ValueError("bad id")
        framed = [boundary] + tokens
        for a, b in zip(framed, framed[1:]):
            table[a, b] += 1.0
    return table
'''},
    # empty documents skipped: the pair (boundary, boundary) is never counted
    "counts_skip_empty_documents": {"count_bigrams": '''
def count_bigrams(documents, vocab_size, boundary):
    if not 0 <= boundary < vocab_size:
        raise ValueError(f"bad boundary {boundary}")
    table = torch.zeros((vocab_size, vocab_size))
    for doc in documents:
        tokens = [int(t) for t in doc]
        if not tokens:
            continue
        if any(t == boundary or not 0 <= t < vocab_size for t in tokens):
            raise ValueError("bad id")
        framed = [boundary] + tokens + [boundary]
        for a, b in zip(framed, framed[1:]):
            table[a, b] += 1.0
    return table
'''},
    # the package's counts of each framed document: forbidden, so its tests score 0
    "counts_from_the_package": {"count_bigrams": '''
from llmcourse.ngram import bigram_counts

def count_bigrams(documents, vocab_size, boundary):
    table = torch.zeros((vocab_size, vocab_size))
    for doc in documents:
        table += bigram_counts([boundary] + [int(t) for t in doc] + [boundary], vocab_size)
    return table
'''},
    # the logits used as if they were log-probabilities (the chapter's bigram_nll on a logit table)
    "nll_logits_not_normalised": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    nats = float(-logits.double()[stream[:-1], stream[1:]].mean())
    return nats, nats / math.log(2), math.exp(nats) if nats < 709 else math.inf
'''},
    # each COLUMN normalised instead of each row
    "nll_normalised_over_columns": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    table = logits.double()
    log_p = table[stream[:-1], stream[1:]] - torch.logsumexp(table, dim=0)[stream[1:]]
    nats = float(-log_p.mean())
    return nats, nats / math.log(2), math.exp(nats) if nats < 709 else math.inf
'''},
    # softmax, then log: a probability that rounds to 0 gives -inf instead of -1000
    "nll_softmax_then_log": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    probs = torch.softmax(logits.double(), dim=1)
    nats = float(-torch.log(probs[stream[:-1], stream[1:]]).mean())
    return nats, nats / math.log(2), math.exp(nats) if nats < 709 else math.inf
'''},
    # perplexity as 2 ** nll while nll is in nats
    "perplexity_base_mismatch": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    table = logits.double()
    log_p = table[stream[:-1], stream[1:]] - torch.logsumexp(table, dim=1)[stream[:-1]]
    nats = float(-log_p.mean())
    return nats, nats / math.log(2), 2 ** nats if nats < 1000 else math.inf
'''},
    # the sum over transitions instead of the mean
    "nll_sum_instead_of_mean": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    table = logits.double()
    log_p = table[stream[:-1], stream[1:]] - torch.logsumexp(table, dim=1)[stream[:-1]]
    nats = float(-log_p.sum())
    return nats, nats / math.log(2), math.exp(nats) if nats < 709 else math.inf
'''},
    # a ready-made log-softmax: forbidden, so its tests score 0 even though they would pass
    "nll_uses_log_softmax": {"nll_and_perplexity": '''
def nll_and_perplexity(logits, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    log_p = torch.log_softmax(logits.double(), dim=1)[stream[:-1], stream[1:]]
    nats = float(-log_p.mean())
    return nats, nats / math.log(2), math.exp(nats) if nats < 709 else math.inf
'''},
    # windows at every start (overlapping, as get_batch may draw them) instead of at multiples of T
    "epoch_windows_overlap": {"epoch_batches": '''
def epoch_batches(data, batch_size, block_size, generator=None):
    n = len(data) - block_size
    if n < 1:
        raise ValueError("data too short")
    order = torch.randperm(n, generator=generator)
    idx = torch.arange(block_size)
    return [(data[order[k:k + batch_size, None] + idx].long(), data[order[k:k + batch_size, None] + idx + 1].long())
            for k in range(0, n, batch_size)]
'''},
    # len(data) // T windows: the last window's final target falls off the end of the data
    "epoch_window_count_off_by_one": {"epoch_batches": '''
def epoch_batches(data, batch_size, block_size, generator=None):
    n = len(data) // block_size
    if len(data) < block_size + 1:
        raise ValueError("data too short")
    order = torch.randperm(n, generator=generator)
    idx = torch.arange(block_size)
    out = []
    for k in range(0, n, batch_size):
        starts = order[k:k + batch_size, None] * block_size
        out.append((data[starts + idx].long(), data[(starts + idx + 1).clamp(max=len(data) - 1)].long()))
    return out
'''},
    # the last, smaller batch is dropped: some windows are never seen
    "epoch_drops_last_batch": {"epoch_batches": '''
def epoch_batches(data, batch_size, block_size, generator=None):
    n = (len(data) - 1) // block_size
    if n < 1:
        raise ValueError("data too short")
    order = torch.randperm(n, generator=generator)
    idx = torch.arange(block_size)
    out = []
    for k in range(0, n - batch_size + 1, batch_size):
        starts = order[k:k + batch_size, None] * block_size
        out.append((data[starts + idx].long(), data[starts + idx + 1].long()))
    return out or [(data[order[:, None] * block_size + idx].long(), data[order[:, None] * block_size + idx + 1].long())]
'''},
    # the windows in their order in the text: no shuffling
    "epoch_not_shuffled": {"epoch_batches": '''
def epoch_batches(data, batch_size, block_size, generator=None):
    n = (len(data) - 1) // block_size
    if n < 1:
        raise ValueError("data too short")
    idx = torch.arange(block_size)
    out = []
    for k in range(0, n, batch_size):
        starts = torch.arange(k, min(k + batch_size, n))[:, None] * block_size
        out.append((data[starts + idx].long(), data[starts + idx + 1].long()))
    return out
'''},
    # zero_grad inside the loop: only the last micro-batch's gradient survives
    "accum_zero_grad_inside_loop": {"accumulation_step": '''
def accumulation_step(model, optimizer, micro_batches):
    if not micro_batches:
        raise ValueError("empty")
    n = sum(y.numel() for _, y in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        optimizer.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)) * (y.numel() / n)
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total
'''},
    # every micro-batch weighted 1 / K: right only when all have the same size
    "accum_mean_over_micro_batches": {"accumulation_step": '''
def accumulation_step(model, optimizer, micro_batches):
    if not micro_batches:
        raise ValueError("empty")
    optimizer.zero_grad()
    total = 0.0
    for x, y in micro_batches:
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)) / len(micro_batches)
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total
'''},
    # unscaled losses: the gradient is a sum of means, about K times too large
    "accum_no_scaling": {"accumulation_step": '''
def accumulation_step(model, optimizer, micro_batches):
    if not micro_batches:
        raise ValueError("empty")
    n = sum(y.numel() for _, y in micro_batches)
    optimizer.zero_grad()
    total = 0.0
    for x, y in micro_batches:
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        total += loss.item() * y.numel() / n
    optimizer.step()
    return total
'''},
    # an optimiser step after every micro-batch: K small steps instead of one
    "accum_step_per_micro_batch": {"accumulation_step": '''
def accumulation_step(model, optimizer, micro_batches):
    if not micro_batches:
        raise ValueError("empty")
    n = sum(y.numel() for _, y in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        optimizer.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)) * (y.numel() / n)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total
'''},
    # gradients of the previous call are never cleared
    "accum_without_zero_grad": {"accumulation_step": '''
def accumulation_step(model, optimizer, micro_batches):
    if not micro_batches:
        raise ValueError("empty")
    n = sum(y.numel() for _, y in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)) * (y.numel() / n)
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "counts_from_the_package": ["test_count_bigrams", "test_count_bigrams_hidden"],
    "nll_uses_log_softmax": ["test_nll_and_perplexity", "test_nll_and_perplexity_hidden"],
}

# The book shows `bigram_counts` and `get_batch` (show_source) and `bigram_nll` (a code cell); the
# training step appears only as lines of `training.train`, not as a function of its own.
BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "count_bigrams": ["bigram_counts"],
    "nll_and_perplexity": ["bigram_nll"],
    "epoch_batches": ["get_batch"],
}
