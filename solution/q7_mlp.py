"""Q7.1.1: the Q3 network (1024-64-36, sigmoid hidden layer, softmax output) in PyTorch, trained
on NIST36. `main()` runs it on the handout's .mat files (or any folder of them)."""
import argparse
from pathlib import Path

import numpy as np
import torch
from q7_train import load_nist36, plot_history, predict_classes, seed_everything, train_classifier

# Q3's training: plain SGD, batches of 32, 1e-2 on the summed loss = 0.32 on the mean loss torch takes.
EPOCHS, BATCH_SIZE, LEARNING_RATE = 30, 32, 0.32
HIDDEN_SIZE, CLASSES = 64, 36


def build_model(in_size=1024, hidden_size=HIDDEN_SIZE, classes=CLASSES):
    """Q7.1.1 Linear(in, hidden), sigmoid, Linear(hidden, classes): (B, in) -> (B, classes) logits
    (the softmax is in the loss, as Q3's softmax + cross-entropy). Initialised as Q2.1.2: uniform
    Xavier weights, zero biases."""
    model = torch.nn.Sequential(torch.nn.Linear(in_size, hidden_size), torch.nn.Sigmoid(),
                                torch.nn.Linear(hidden_size, classes))
    for layer in (model[0], model[2]):
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    return model


def as_tensor(x):
    """NIST36 rows (N, 1024) -> float32 tensor (N, 1024)."""
    return torch.tensor(np.asarray(x), dtype=torch.float32)


def train(model, x, labels, checkpoint=None):
    """Q7.1.1 train model on NIST36 rows x (N, 1024) with integer labels (N,) in 0..35.
    Returns history {"loss": [...], "accuracy": [...]}, one value per epoch."""
    return train_classifier(model, as_tensor(x), torch.as_tensor(np.asarray(labels), dtype=torch.int64),
                            epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                            optimizer="sgd", checkpoint=checkpoint, description="Q7.1.1 MLP")


def predict(model, x):
    """Q7.1.1 the class of each row of x (N, 1024): (N,) int array."""
    return predict_classes(model, as_tensor(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Q7.1.1: the Q3 network in PyTorch on NIST36")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,valid}.mat")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    x, y, vx, vy = load_nist36(args.data_dir)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(0)
    model = build_model()
    history = train(model, x, y, checkpoint=out / "q7_1_1_mlp.pt")
    plot_history(history, out / "q7_1_1_curves.png", "Q7.1.1 MLP on NIST36")
    print(f"validation accuracy {np.mean(predict(model, vx) == vy):.1%}")


if __name__ == "__main__":
    main()
