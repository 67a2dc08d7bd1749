"""Trusted oracles for the spec tests; independent of any submission and of solution/."""
import numpy as np
from scipy.special import expit, softmax

# CS231n-style threshold on the norm-relative error of a gradient of a smooth float64 function.
# Central differences with EPS = 1e-6 land near 1e-9 here; a wrong rule lands above 1e-2.
EPS = 1e-6
GRAD_TOL = 1e-6


def numerical_gradient(f, x, eps=EPS):
    """Central differences of the scalar f() w.r.t. the array x, perturbed in place and restored.

    Inputs: f: () -> float, x: any-shape float array. Returns: array of x's shape.
    """
    grad = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f()
        x[index] = original - eps
        minus = f()
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b, what="the array"):
    """||a - b|| / max(||a|| + ||b||, 1e-12) -> float in [0, 1]. a is the submission's answer, b the
    grader's: a of another shape fails the check saying so (what: which array), never with numpy's
    broadcasting error."""
    __tracebackhide__ = True
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise AssertionError(f"{what} has shape {a.shape}; expected {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def scale_hint(got, numeric, n):
    """Words for a gradient `got` that is a constant multiple of the true one `numeric` (same shape;
    n: the batch size, for the 1/N of an average), else ''."""
    denominator = float(np.sum(got * got))
    if denominator == 0:
        return ""
    scale = float(np.sum(got * numeric)) / denominator   # the least-squares factor numeric ≈ scale · got
    if relative_error(scale * got, numeric) > GRAD_TOL or np.isclose(scale, 1, rtol=1e-3):
        return ""
    if np.isclose(scale, n, rtol=1e-3):
        return f" It is 1/N of the expected (N = {n}): averaged over the batch? The loss is a sum over the batch, so its gradient is too."
    return f" It is the expected gradient times {1 / scale:.4g}."


def make_two_layer_problem(rng, n=8, d=5, h=4, c=3):
    """A sigmoid-hidden, softmax-output network and a batch.

    Returns: params {'Wlayer1' (d, h), 'blayer1' (h,), 'Woutput' (h, c), 'boutput' (c,)},
             x (n, d), y (n, c) one-hot.
    """
    params = {
        "Wlayer1": rng.normal(0, 0.5, (d, h)), "blayer1": rng.normal(0, 0.5, h),
        "Woutput": rng.normal(0, 0.5, (h, c)), "boutput": rng.normal(0, 0.5, c),
    }
    x = rng.normal(0, 1, (n, d))
    y = np.eye(c)[rng.integers(0, c, n)]
    return params, x, y


def two_layer_forward(params, x):
    """Trusted forward pass. Returns (hidden pre, hidden post, output pre, probs)."""
    pre1 = x @ params["Wlayer1"] + params["blayer1"]
    post1 = expit(pre1)
    pre2 = post1 @ params["Woutput"] + params["boutput"]
    return pre1, post1, pre2, softmax(pre2, axis=1)


def two_layer_loss(params, x, y):
    """Summed cross-entropy of the two-layer network on (x, y)."""
    probs = two_layer_forward(params, x)[3]
    return float(-np.sum(y * np.log(probs)))


def two_layer_gradients(params, x, y):
    """Trusted closed-form backprop of two_layer_loss. Returns {key: gradient} for the 4 params."""
    _, post1, _, probs = two_layer_forward(params, x)
    d_pre2 = probs - y
    d_pre1 = (d_pre2 @ params["Woutput"].T) * post1 * (1 - post1)
    return {
        "Woutput": post1.T @ d_pre2, "boutput": d_pre2.sum(axis=0),
        "Wlayer1": x.T @ d_pre1, "blayer1": d_pre1.sum(axis=0),
    }


def _recording(function, record):
    """function with a `record(args, kwargs)` attribute: the worker logs each call's record for a
    procedure check (Submission.patched)."""
    function.record = record
    return function


def _argument(args, kwargs, position, name, default=None):
    """The value of a call's argument given by position or by keyword."""
    return args[position] if len(args) > position else kwargs.get(name, default)


def trusted_contract_functions():
    """Oracle versions of the nn.py/util.py/run_q2.py functions that other questions' code calls,
    by contract name.

    A check of one question patches these over the submission's own, so that a bug graded in
    another question (softmax, forward, ...) does not cost its points a second time. Some record
    their calls for procedure checks: get_random_batches its (N, batch_size), initialize_weights
    its (in, out) sizes.
    """
    def sigmoid_deriv(post):
        return post * (1 - post)

    def forward(X, params, name="", activation=expit):
        pre = X @ params["W" + name] + params["b" + name]
        params["cache_" + name] = (X, pre, activation(pre))
        return params["cache_" + name][2]

    def backwards(delta, params, name="", activation_deriv=sigmoid_deriv):
        return _layer_backwards(delta, params, name, activation_deriv)

    def compute_loss_and_acc(y, probs):
        return float(-np.sum(y * np.log(probs))), float(np.mean(probs.argmax(1) == y.argmax(1)))

    def get_random_batches(x, y, batch_size):
        order = np.random.permutation(len(x))
        # One gather an epoch, then views: the same batches as a gather per batch, in two numpy calls.
        x, y = np.take(x, order, axis=0), np.take(y, order, axis=0)
        return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]

    def initialize_weights(in_size, out_size, params, name=""):
        bound = np.sqrt(6 / (in_size + out_size))
        params["W" + name] = np.random.uniform(-bound, bound, (in_size, out_size))
        params["b" + name] = np.zeros(out_size)

    def apply_gradients(params, learning_rate, names):
        for name in names:
            for kind in ("W", "b"):
                params[kind + name] = params[kind + name] - learning_rate * params["grad_" + kind + name]

    _recording(get_random_batches, lambda args, kwargs: (int(len(_argument(args, kwargs, 0, "x"))),
                                                          int(_argument(args, kwargs, 2, "batch_size"))))
    _recording(initialize_weights, lambda args, kwargs: (int(_argument(args, kwargs, 0, "in_size")),
                                                          int(_argument(args, kwargs, 1, "out_size"))))
    return {"sigmoid": expit, "sigmoid_deriv": sigmoid_deriv, "softmax": lambda x: softmax(x, axis=1),
            "forward": forward, "backwards": backwards, "compute_loss_and_acc": compute_loss_and_acc,
            "get_random_batches": get_random_batches, "initialize_weights": initialize_weights,
            "apply_gradients": apply_gradients, "linear": lambda x: x, "linear_deriv": np.ones_like}


def _layer_backwards(delta, params, name, activation_deriv, input_gradient=True):
    """The contract's backwards for one layer: stores params['grad_W' + name] and ['grad_b' + name],
    returns the gradient for the layer's input, or None where input_gradient is False (a first
    layer's, which nothing uses: a third of a Q3 step's multiply-adds, a sixth of an autoencoder's). activation_deriv None
    stands for a linear layer's derivative, 1."""
    X, _, post = params["cache_" + name]
    grad_pre = delta if activation_deriv is None else delta * activation_deriv(post)
    params["grad_W" + name], params["grad_b" + name] = X.T @ grad_pre, grad_pre.sum(axis=0)
    return grad_pre @ params["W" + name].T if input_gradient else None


def trusted_training_functions():
    """trusted_contract_functions plus an oracle run_q2.train (the contract's: mini-batch SGD on a
    sigmoid layer and a softmax layer, new batches every epoch, a history of per-epoch means), for
    checks of Q3's trainings: they grade the submission's training choices (its learning rate, batch
    size, initialisation), while its Q2 loop is graded in Q2.4.1."""
    trusted = trusted_contract_functions()
    forward, loss_and_acc = trusted["forward"], trusted["compute_loss_and_acc"]

    def probabilities(x, params, names):
        return forward(forward(x, params, names[0], expit), params, names[1], trusted["softmax"])

    def train(x, y, params, *, epochs, batch_size, learning_rate, names=("layer1", "output"), valid=None):
        history = {"train_loss": [], "train_acc": [], **({"valid_loss": [], "valid_acc": []} if valid is not None else {})}
        for _ in range(epochs):
            total_loss = total_correct = 0.0
            for batch_x, batch_y in trusted["get_random_batches"](x, y, batch_size):
                probs = probabilities(batch_x, params, names)
                loss, acc = loss_and_acc(batch_y, probs)
                total_loss, total_correct = total_loss + loss, total_correct + acc * len(batch_x)
                delta = _layer_backwards(probs - batch_y, params, names[1], None)
                _layer_backwards(delta, params, names[0], trusted["sigmoid_deriv"], input_gradient=False)
                trusted["apply_gradients"](params, learning_rate, names)
            history["train_loss"].append(total_loss / len(x))
            history["train_acc"].append(total_correct / len(x))
            if valid is not None:
                loss, acc = loss_and_acc(valid[1], probabilities(valid[0], params, names))
                history["valid_loss"].append(loss / len(valid[0]))
                history["valid_acc"].append(acc)
        return history

    return {**trusted, "train": train}


AUTOENCODER_LAYERS = ("layer1", "layer2", "layer3", "output")


def mean_psnr(x, reconstructed):
    """Trusted Q5.3.2/Q6.3 PSNR: the mean over rows of -10 log10(row MSE), MAX_I = 1. (N, D) each -> float."""
    return float(np.mean(-10 * np.log10(np.mean((np.asarray(reconstructed) - x) ** 2, axis=1))))


def autoencoder_reconstruct(params, x):
    """Trusted Q5 forward pass: ReLU, ReLU, ReLU, sigmoid through AUTOENCODER_LAYERS.
    x (N, D) -> (N, D)."""
    hidden = x
    for name in AUTOENCODER_LAYERS[:-1]:
        hidden = np.maximum(hidden @ params["W" + name] + params["b" + name], 0)
    return expit(hidden @ params["Woutput"] + params["boutput"])


def trusted_autoencoder_functions():
    """trusted_contract_functions plus oracle versions of Q5.1's run_q5.py functions, for checks
    of Q5.2's training procedure: autoencoder_forward records each batch's rows, momentum_step each
    step's learning rate (M = 0.9 M - lr dJ/dW, then W = W + M)."""
    trusted = trusted_contract_functions()
    forward, backwards = trusted["forward"], trusted["backwards"]

    def relu(x):
        return np.maximum(x, 0)

    def relu_deriv(post):
        return (post > 0).astype(float)

    def initialize_autoencoder(in_size=1024, hidden_size=32):
        params = {}
        sizes = (in_size, hidden_size, hidden_size, hidden_size, in_size)
        for name, fan_in, fan_out in zip(AUTOENCODER_LAYERS, sizes[:-1], sizes[1:], strict=True):
            trusted["initialize_weights"](fan_in, fan_out, params, name)
        for key in _learned_keys():
            params["m_" + key] = np.zeros_like(params[key])
        return params

    def autoencoder_forward(x, params):
        hidden = x
        for name in AUTOENCODER_LAYERS[:-1]:
            hidden = forward(hidden, params, name, relu)
        return forward(hidden, params, AUTOENCODER_LAYERS[-1], expit)

    def squared_error(x, out):
        return float(np.sum((out - x) ** 2))

    def autoencoder_backwards(x, out, params):
        delta = backwards(2.0 * (out - x), params, AUTOENCODER_LAYERS[-1], trusted["sigmoid_deriv"])
        for name in reversed(AUTOENCODER_LAYERS[1:-1]):
            delta = backwards(delta, params, name, relu_deriv)
        _layer_backwards(delta, params, AUTOENCODER_LAYERS[0], relu_deriv, input_gradient=False)

    def momentum_step(params, learning_rate):
        for key in _learned_keys():
            params["m_" + key] = 0.9 * params.get("m_" + key, 0) - learning_rate * params["grad_" + key]
            params[key] = params[key] + params["m_" + key]

    _recording(autoencoder_forward, lambda args, kwargs: int(len(_argument(args, kwargs, 0, "x"))))
    _recording(momentum_step, lambda args, kwargs: float(_argument(args, kwargs, 1, "learning_rate")))
    return {**trusted, "relu": relu, "relu_deriv": relu_deriv, "initialize_autoencoder": initialize_autoencoder, "autoencoder_forward": autoencoder_forward,
            "squared_error": squared_error, "autoencoder_backwards": autoencoder_backwards,
            "momentum_step": momentum_step}


def _learned_keys():
    return [kind + name for name in AUTOENCODER_LAYERS for kind in ("W", "b")]
