"""Q2: a fully connected network in numpy (the handout's python/nn.py).

State lives in one plain dict ``params`` (the handout's contract):
  params['W'+name] (D, M), params['b'+name] (M,)       -- a layer's parameters
  params['cache_'+name] = (X, pre_act, post_act)        -- written by forward, read by backwards
  params['grad_W'+name], params['grad_b'+name]          -- written by backwards
Each backward rule sits under its forward.
"""
import numpy as np

from util import linear, linear_deriv, relu, relu_deriv  # noqa: F401  (the handout's star import)


def initialize_weights(in_size, out_size, params, name=""):
    """Q2.1.2 Xavier (Glorot) uniform initialisation.

    Inputs:  in_size D, out_size M (ints); params dict; name str
    Effect:  params['W'+name] (D, M) ~ U[-a, a] with a = sqrt(6 / (D + M)), so Var = 2 / (D + M);
             params['b'+name] (M,) zeros. Draws from numpy's global RNG (np.random).
    """
    bound = np.sqrt(6.0 / (in_size + out_size))
    params["W" + name] = np.random.uniform(-bound, bound, size=(in_size, out_size))
    params["b" + name] = np.zeros(out_size)


def sigmoid(x):
    """Q2.2.1 logistic function, elementwise, any shape: 1 / (1 + e^-x). Where e^-x overflows
    (x < -709) it is inf and the result the correct limit 0, so the overflow is silenced, not avoided."""
    out = np.array(x, dtype=float)   # a float64 copy of any shape (0-d too), worked on in place
    np.negative(out, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def sigmoid_deriv(post_act):
    """dσ/dx written in terms of σ(x) (Q1.4): σ(1 − σ), elementwise."""
    return post_act * (1.0 - post_act)


def forward(X, params, name="", activation=sigmoid):
    """Q2.2.1 one layer: post_act = activation(X @ W + b).

    Inputs:  X (N, D); params with 'W'+name (D, M), 'b'+name (M,); activation: (N, M) -> (N, M)
    Returns: post_act (N, M); stores params['cache_'+name] = (X, pre_act, post_act)
    """
    pre_act = X @ params["W" + name]
    pre_act += params["b" + name]
    post_act = activation(pre_act)
    params["cache_" + name] = (X, pre_act, post_act)
    return post_act


def backwards(delta, params, name="", activation_deriv=sigmoid_deriv):
    """Q2.3.1 backpropagation through the layer that forward(..., name) computed.

    Inputs:  delta (N, M) = dJ/d(post_act); activation_deriv: post_act (N, M) -> (N, M)
    Returns: dJ/dX (N, D); stores params['grad_W'+name] (D, M) and params['grad_b'+name] (M,),
             summed over the N examples (J is a sum over the batch).
    """
    X, _pre_act, post_act = params["cache_" + name]
    grad_pre = delta * activation_deriv(post_act)
    params["grad_W" + name] = X.T @ grad_pre
    params["grad_b" + name] = grad_pre.sum(axis=0)
    return grad_pre @ params["W" + name].T


def softmax(x):
    """Q2.2.2 row-wise softmax with the Q1.1 shift c = -max, so exp never overflows.

    Inputs:  x (N, C). Returns: (N, C), each row positive and summing to 1.
    """
    shifted = np.subtract(x, np.max(x, axis=1, keepdims=True), dtype=float)   # a new array, worked on in place
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def compute_loss_and_acc(y, probs):
    """Q2.2.3 cross-entropy and accuracy.

    Inputs:  y (N, C) one-hot; probs (N, C) rows of class probabilities
    Returns: (loss, acc) floats: loss = -sum(y * log(probs)) over the whole batch,
             acc = fraction of rows whose argmax(probs) is the labelled class.
    """
    labels = np.argmax(y, axis=1)
    rows = np.arange(len(labels))
    loss = -np.sum(np.log(np.maximum(probs[rows, labels], np.finfo(float).tiny)))
    acc = np.mean(np.argmax(probs, axis=1) == labels)
    return float(loss), float(acc)


def get_random_batches(x, y, batch_size):
    """Q2.4.1 split (x, y) into shuffled mini-batches.

    Inputs:  x (N, D), y (N, C), batch_size B
    Returns: list of (batch_x (b, D), batch_y (b, C)); every example appears exactly once,
             in an order drawn from np.random; all batches have B rows but the last (N mod B).
    """
    order = np.random.permutation(len(x))
    # Each batch gathered on its own (not one gather of all N rows, then views): the epoch ran faster
    # so in benchmarks/test_forward_backward.py, its rows still cached when forward reads them.
    return [(np.take(x, rows, axis=0), np.take(y, rows, axis=0))
            for rows in (order[start:start + batch_size] for start in range(0, len(x), batch_size))]
