"""Typical wrong answers to the Chapter 04 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # the hidden state is not carried: every step starts again from h0
    "rnn_resets_hidden_state_each_step": {"rnn_forward": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    outs = [torch.tanh(x[:, t] @ W_ih.T + b_ih + h0 @ W_hh.T + b_hh) for t in range(x.shape[1])]
    return torch.stack(outs, dim=1), outs[-1]
'''},
    # a linear recurrence: no squashing non-linearity
    "rnn_without_tanh": {"rnn_forward": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    h, outs = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        outs.append(h)
    return torch.stack(outs, dim=1), h
'''},
    # gates read in the order i, g, f, o instead of torch's i, f, g, o
    "lstm_gates_in_wrong_order": {"lstm_cell": '''
def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, g, f, o = z.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
'''},
    # the forget gate scales the hidden state instead of the cell state
    "lstm_forget_gate_on_hidden_state": {"lstm_cell": '''
def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = z.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * h + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
'''},
    # a ready-made LSTM cell: forbidden, so its tests score 0 even though they would pass
    "lstm_uses_torch_lstm_cell": {"lstm_cell": '''
def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.lstm_cell(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
'''},
    # each parameter clipped to max_norm on its own: the update changes direction
    "clip_per_parameter": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm):
    total = torch.tensor(0.0)
    for p in parameters:
        if p.grad is None:
            continue
        n = p.grad.norm()
        total = torch.sqrt(total ** 2 + n ** 2)
        p.grad.mul_(min(1.0, max_norm / (float(n) + 1e-6)))
    return total
'''},
    # rescales to max_norm always, also when the norm is already below it
    "clip_always_rescales": {"clip_by_global_norm": '''
def clip_by_global_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "lstm_uses_torch_lstm_cell": ["test_lstm_cell", "test_lstm_cell_hidden"],
}
