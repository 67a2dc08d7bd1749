"""Activation helpers the handout says are given (util.py).

Every function is elementwise: it takes an array of any shape and returns one of the same shape.
The ``*_deriv`` functions take the layer's POST-activation output, as ``nn.backwards`` passes it.
"""
import numpy as np


def relu(x):
    """max(x, 0), elementwise."""
    return np.maximum(x, 0)


def relu_deriv(post_act):
    """dReLU/dx written in terms of relu(x): 1 where the output is positive, else 0."""
    return (post_act > 0).astype(post_act.dtype)


def linear(x):
    """The identity activation."""
    return x


def linear_deriv(post_act):
    """Derivative of the identity: ones of the same shape."""
    return np.ones_like(post_act)
