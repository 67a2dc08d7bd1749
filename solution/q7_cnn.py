"""Q7.1.2-Q7.1.4: the small convolutional network the three CNN questions train (MNIST, NIST36,
EMNIST Balanced): two 3x3 conv + ReLU + 2x2 max-pool stages, then two fully connected layers."""
import torch


def small_cnn(classes, side, channels=(16, 32), hidden=128, dropout=0.25):
    """(B, 1, side, side) float -> (B, classes) logits; side divisible by 4."""
    first, second = channels
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, first, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(first, second, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(dropout),
        torch.nn.Linear(second * (side // 4) ** 2, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, classes))
