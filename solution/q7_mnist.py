"""Q7.1.2: a convolutional network on MNIST. `main()` downloads MNIST with torchvision."""
import argparse
from pathlib import Path

import numpy as np
import torch
from q7_cnn import small_cnn
from q7_train import plot_history, predict_classes, seed_everything, train_classifier

EPOCHS, BATCH_SIZE, LEARNING_RATE = 6, 64, 1e-3
CLASSES, SIDE = 10, 28
MEAN, STD = 0.1307, 0.3081          # MNIST's pixel statistics (torchvision's MNIST examples)


def build_model():
    """Q7.1.2 a CNN: (B, 1, 28, 28) -> (B, 10) logits."""
    return small_cnn(CLASSES, SIDE)


def as_tensor(x):
    """MNIST images (N, 28, 28) uint8 (white ink on black, as torchvision's MNIST.data) -> normalised
    float32 (N, 1, 28, 28)."""
    return ((torch.tensor(np.asarray(x), dtype=torch.float32) / 255 - MEAN) / STD).unsqueeze(1)


def train(model, x, labels, checkpoint=None):
    """Q7.1.2 train model on MNIST images x (N, 28, 28) uint8 with labels (N,) in 0..9.
    Returns history {"loss": [...], "accuracy": [...]}, one value per epoch."""
    return train_classifier(model, as_tensor(x), torch.as_tensor(np.asarray(labels), dtype=torch.int64),
                            epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                            checkpoint=checkpoint, description="Q7.1.2 MNIST CNN")


def predict(model, x):
    """Q7.1.2 the digit of each image of x (N, 28, 28) uint8: (N,) int array."""
    return predict_classes(model, as_tensor(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Q7.1.2: a CNN on MNIST (downloaded by torchvision)")
    parser.add_argument("--root", default="../data", help="torchvision's dataset folder (MNIST/ goes there)")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    from torchvision.datasets import MNIST
    train_set, test_set = (MNIST(args.root, train=t, download=True) for t in (True, False))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(0)
    model = build_model()
    history = train(model, train_set.data, train_set.targets, checkpoint=out / "q7_1_2_mnist_cnn.pt")
    plot_history(history, out / "q7_1_2_curves.png", "Q7.1.2 CNN on MNIST")
    print(f"test accuracy {np.mean(predict(model, test_set.data) == test_set.targets.numpy()):.1%}")


if __name__ == "__main__":
    main()
