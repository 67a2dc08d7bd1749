"""Q2.4.1 training loop and Q2.5.1 numerical gradient checker (the handout's run_q2.py).

The graded parts are functions; the handout's toy run is ``main()``, guarded so that importing
this module has no side effects.
"""
import numpy as np

from nn import (
    backwards,
    compute_loss_and_acc,
    forward,
    get_random_batches,
    initialize_weights,
    sigmoid,
    softmax,
)
from util import linear_deriv


def apply_gradients(params, learning_rate, names):
    """One SGD step: W -= lr * grad_W and b -= lr * grad_b for each layer name, in place."""
    for name in names:
        for kind in ("W", "b"):
            params[kind + name] -= learning_rate * params["grad_" + kind + name]


def _probs(x, params, names):
    """Forward through the sigmoid hidden layer names[0] and the softmax layer names[1]."""
    hidden = forward(x, params, names[0], sigmoid)
    return forward(hidden, params, names[1], softmax)


def train(x, y, params, *, epochs, batch_size, learning_rate, names=("layer1", "output"),
          valid=None):
    """Q2.4.1 mini-batch SGD on a one-hidden-layer classifier.

    Inputs:  x (N, D), y (N, C) one-hot; params already initialised for layer names[0] (sigmoid,
             D -> H) and names[1] (softmax, H -> C); epochs, batch_size, learning_rate;
             valid: optional (x_valid, y_valid) evaluated after every epoch.
    Returns: history dict of per-epoch lists: 'train_loss' (mean cross-entropy per example over
             the epoch's batches), 'train_acc', and 'valid_loss'/'valid_acc' when valid is given.
             params is updated in place.
    """
    history = {"train_loss": [], "train_acc": []}
    if valid is not None:
        history.update(valid_loss=[], valid_acc=[])
    for _ in range(epochs):
        seen_y, seen_probs = [], []   # each batch's labels and outputs, scored once per epoch
        for batch_x, batch_y in get_random_batches(x, y, batch_size):
            probs = _probs(batch_x, params, names)
            seen_y.append(batch_y)
            seen_probs.append(probs)
            # softmax + cross-entropy: dJ/d(pre-softmax) = probs - y, so pass it with linear_deriv
            delta = backwards(probs - batch_y, params, names[1], linear_deriv)
            backwards(delta, params, names[0])
            apply_gradients(params, learning_rate, names)
        # the loss summed over the epoch's batches (each scored before its update), per example
        loss, acc = compute_loss_and_acc(np.concatenate(seen_y), np.concatenate(seen_probs))
        history["train_loss"].append(loss / len(x))
        history["train_acc"].append(acc)
        if valid is not None:
            loss, acc = compute_loss_and_acc(valid[1], _probs(valid[0], params, names))
            history["valid_loss"].append(loss / len(valid[0]))
            history["valid_acc"].append(acc)
    return history


def numerical_gradients(params, loss_fn, eps=1e-6):
    """Q2.5.1 central-difference gradient of a scalar loss.

    Inputs:  params dict; loss_fn(params) -> float; eps
    Returns: dict {key: array of params[key]'s shape} for every parameter key (those starting
             with 'W' or 'b'); entry i = (J(p + eps e_i) - J(p - eps e_i)) / (2 eps).
             params is left exactly as it was.
    """
    grads = {}
    for key in [k for k in params if k[:1] in ("W", "b")]:
        value = params[key]
        grad = np.zeros_like(value, dtype=float)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + eps
            plus = loss_fn(params)
            value[index] = original - eps
            minus = loss_fn(params)
            value[index] = original
            grad[index] = (plus - minus) / (2 * eps)
        grads[key] = grad
    return grads


def relative_error(a, b):
    """Relative error ||a - b|| / max(||a|| + ||b||, 1e-12) (Frobenius norms) -> float in [0, 1]."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def toy_data(n_per_class=100, seed=0):
    """The handout's toy problem: 4 Gaussian blobs in 2-D. Returns x (4n, 2), y (4n, 4) one-hot."""
    rng = np.random.default_rng(seed)
    centers = np.array([[-3.0, -3.0], [-3.0, 3.0], [3.0, -3.0], [3.0, 3.0]])
    x = np.concatenate([rng.normal(c, 1.0, size=(n_per_class, 2)) for c in centers])
    y = np.repeat(np.eye(4), n_per_class, axis=0)
    return x, y


def main():
    """Train on the toy problem, check gradients, print both (the handout's run_q2 script)."""
    np.random.seed(0)
    x, y = toy_data()
    params = {}
    initialize_weights(2, 25, params, "layer1")
    initialize_weights(25, 4, params, "output")
    history = train(x, y, params, epochs=50, batch_size=5, learning_rate=1e-3)
    for epoch in range(0, 50, 10):
        print(f"epoch {epoch:2d}  loss {history['train_loss'][epoch]:.4f}"
              f"  acc {history['train_acc'][epoch]:.2f}")

    def loss_fn(p):
        return compute_loss_and_acc(y[:10], _probs(x[:10], p, ("layer1", "output")))[0]

    probs = _probs(x[:10], params, ("layer1", "output"))
    backwards(backwards(probs - y[:10], params, "output", linear_deriv), params, "layer1")
    numeric = numerical_gradients(params, loss_fn)
    for key, grad in numeric.items():
        print(f"{key:8s} relative error {relative_error(grad, params['grad_' + key]):.2e}")


if __name__ == "__main__":
    main()
