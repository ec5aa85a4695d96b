"""Typical wrong answers to the Chapter 04 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded name → the book's functions for the same idea under another name
(tests/test_copyproof.py pastes each as the answer and checks that it loses points). The book's
methods `RNNCell.forward`, `Recurrent.forward` and `LSTMCell.forward` are not pasted by that test;
the exercise asks for variants they do not compute (padding, coupled gates, a norm of order p).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # the lengths are ignored: the padding is read as if it were text
    "rnn_ignores_lengths": {"rnn_forward": '''
def rnn_forward(x, lengths, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        outs.append(h)
    return torch.stack(outs, dim=1), h
'''},
    # outputs are zeroed on padding, but the state keeps running: h_last is the state after step T
    "rnn_state_not_frozen_on_padding": {"rnn_forward": '''
def rnn_forward(x, lengths, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        outs.append(h * (lengths > t)[:, None])
    return torch.stack(outs, dim=1), h
'''},
    # the frozen state is also written into the padding outputs instead of zeros
    "rnn_padding_outputs_repeat_the_state": {"rnn_forward": '''
def rnn_forward(x, lengths, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        new = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        h = torch.where((lengths > t)[:, None], new, h)
        outs.append(h)
    return torch.stack(outs, dim=1), h
'''},
    # one step too many: a sequence of length n also reads its first padding step
    "rnn_lengths_off_by_one": {"rnn_forward": '''
def rnn_forward(x, lengths, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        new = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        real = (lengths >= t)[:, None]
        h = torch.where(real, new, h)
        outs.append(new * real)
    return torch.stack(outs, dim=1), h
'''},
    # the hidden state is not carried: every step starts again from h0
    "rnn_resets_hidden_state_each_step": {"rnn_forward": '''
def rnn_forward(x, lengths, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        new = torch.tanh(x[:, t] @ W_ih.T + b_ih + h0 @ W_hh.T + b_hh)
        real = (lengths > t)[:, None]
        h = torch.where(real, new, h)
        outs.append(new * real)
    return torch.stack(outs, dim=1), h
'''},
    # the input gate taken equal to f instead of 1 - f
    "lstm_input_gate_equals_forget_gate": {"coupled_lstm_cell": '''
def coupled_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    f, g, o = z.chunk(3, dim=1)
    f = torch.sigmoid(f)
    c_new = f * c + f * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
'''},
    # gates read in the order g, f, o instead of f, g, o
    "lstm_gates_in_wrong_order": {"coupled_lstm_cell": '''
def coupled_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    g, f, o = z.chunk(3, dim=1)
    f = torch.sigmoid(f)
    c_new = f * c + (1 - f) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
'''},
    # the new hidden state shows the OLD cell state
    "lstm_output_from_old_cell_state": {"coupled_lstm_cell": '''
def coupled_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    f, g, o = z.chunk(3, dim=1)
    f = torch.sigmoid(f)
    c_new = f * c + (1 - f) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c_new
'''},
    # torch's own LSTM cell, with the forget gate's weights negated as input gate: forbidden,
    # so its tests score 0 even though they would pass
    "lstm_uses_torch_lstm_cell": {"coupled_lstm_cell": '''
def coupled_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    H = h.shape[1]
    full = [torch.cat([-w[:H], w]) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
    return torch.lstm_cell(x, (h, c), *full)
'''},
    # norm_type ignored: always the L2 norm
    "clip_ignores_norm_type": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total
'''},
    # the max norm through the power formula: |g| ** inf and ** (1 / inf) give inf or 1, not the max
    "clip_inf_norm_by_power": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = sum((g.abs() ** norm_type).sum() for g in grads) ** (1.0 / norm_type)
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total
'''},
    # the root 1/p forgotten: the sum of |g|^p is not a norm (wrong for every p but 1)
    "clip_p_norm_without_root": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if norm_type == float("inf"):
        total = max(g.abs().max() for g in grads)
    else:
        total = sum((g.abs() ** norm_type).sum() for g in grads)
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total
'''},
    # each parameter clipped by its own norm: the update changes direction
    "clip_per_parameter": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm, norm_type=2.0):
    totals = []
    for p in parameters:
        if p.grad is None:
            continue
        n = p.grad.abs().max() if norm_type == float("inf") else p.grad.abs().pow(norm_type).sum() ** (1 / norm_type)
        totals.append(n)
        p.grad.mul_(min(1.0, max_norm / (float(n) + 1e-6)))
    if not totals:
        return torch.tensor(0.0)
    stacked = torch.stack(totals)
    return stacked.max() if norm_type == float("inf") else stacked.pow(norm_type).sum() ** (1 / norm_type)
'''},
    # rescales to max_norm always, also when the norm is already below it
    "clip_always_rescales": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if norm_type == float("inf"):
        total = max(g.abs().max() for g in grads)
    else:
        total = sum((g.abs() ** norm_type).sum() for g in grads) ** (1.0 / norm_type)
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "lstm_uses_torch_lstm_cell": ["test_coupled_lstm_cell", "test_coupled_lstm_cell_hidden"],
}

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "rnn_forward": ["run_from"],
    "clip_by_global_norm": ["clip_grad_norm"],
}
