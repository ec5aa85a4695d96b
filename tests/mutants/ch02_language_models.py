"""Typical wrong answers to the Chapter 02 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # rows and columns swapped: counts[next, current]
    "counts_transposed": {"count_bigrams": '''
def count_bigrams(ids, vocab_size):
    stream = [int(t) for t in ids]
    for t in stream:
        if not 0 <= t < vocab_size:
            raise ValueError(f"bad id {t}")
    table = torch.zeros((vocab_size, vocab_size))
    for a, b in zip(stream, stream[1:]):
        table[b, a] += 1.0
    return table
'''},
    # the package's reference: forbidden, so its tests score 0
    "counts_from_the_package": {"count_bigrams": '''
from llmcourse.ngram import bigram_counts

def count_bigrams(ids, vocab_size):
    return bigram_counts(list(ids), vocab_size)
'''},
    # perplexity as 2 ** nll while nll is in nats
    "perplexity_base_mismatch": {"nll_and_perplexity": '''
def nll_and_perplexity(probs, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    nats = float(-torch.log(probs[stream[:-1], stream[1:]]).mean())
    return nats, nats / math.log(2), 2 ** nats
'''},
    # the sum over transitions instead of the mean
    "nll_sum_instead_of_mean": {"nll_and_perplexity": '''
def nll_and_perplexity(probs, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    nats = float(-torch.log(probs[stream[:-1], stream[1:]]).sum())
    return nats, nats / math.log(2), math.exp(nats) if nats < 700 else math.inf
'''},
    # bits multiplied by ln 2 instead of divided
    "bits_wrong_way": {"nll_and_perplexity": '''
def nll_and_perplexity(probs, ids):
    stream = torch.as_tensor(ids, dtype=torch.long)
    if stream.numel() < 2:
        raise ValueError("need 2 tokens")
    nats = float(-torch.log(probs[stream[:-1], stream[1:]]).mean())
    return nats, nats * math.log(2), math.exp(nats)
'''},
    # the targets are the inputs themselves
    "targets_not_shifted": {"sample_batch": '''
def sample_batch(data, batch_size, block_size, generator=None):
    if len(data) <= block_size:
        raise ValueError("data too short")
    starts = torch.randint(0, len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts.tolist()]).long()
    return x, x.clone()
'''},
    # starts may run one past the end: the last window's target falls off the data
    "batch_start_off_by_one": {"sample_batch": '''
def sample_batch(data, batch_size, block_size, generator=None):
    if len(data) <= block_size:
        raise ValueError("data too short")
    starts = torch.randint(0, len(data) - block_size + 1, (batch_size,), generator=generator)
    idx = starts[:, None] + torch.arange(block_size)
    return data[idx].long(), data[(idx + 1).clamp(max=len(data) - 1)].long()
'''},
    # gradients accumulate from step to step
    "step_without_zero_grad": {"training_step": '''
def training_step(model, optimizer, x, y):
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    optimizer.step()
    return loss.item()
'''},
    # a summed loss: the gradient is B * T times too large
    "step_sum_instead_of_mean": {"training_step": '''
def training_step(model, optimizer, x, y):
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "counts_from_the_package": ["test_count_bigrams", "test_count_bigrams_hidden"],
}
