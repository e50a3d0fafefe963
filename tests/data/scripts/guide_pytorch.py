"""The guide's "With PyTorch" train(), unchanged (plain `import wandb`), with tiny data."""
# ruff: noqa: F841, I001  -- the guide's code, kept verbatim

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import wandb

device = torch.device("cpu")
torch.manual_seed(0)
_X = torch.randn(48, 3, 4, 4)
_Y = (_X.mean(dim=(1, 2, 3)) > 0).long()
train_dataset = TensorDataset(_X, _Y)
val_loader = DataLoader(train_dataset, batch_size=48)


class ResNet(nn.Module):
    """A one-block stand-in with the guide's constructor arguments."""

    def __init__(self, num_classes, dropout):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * 4 * 4, num_classes)

    def forward(self, x):
        h = torch.relu(self.conv(x)) + x.mean(dim=1, keepdim=True)
        return self.head(self.drop(h.flatten(1)))


def validate(model, loader):
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for data, target in loader:
            out = model(data)
            total += nn.CrossEntropyLoss(reduction="sum")(out, target).item()
            correct += int((out.argmax(1) == target).sum())
            n += len(target)
    return total / n, correct / n


def train():
    run = wandb.init()
    config = wandb.config

    # Data
    train_loader = DataLoader(
        train_dataset,
        batch_size=config.batch_size,
        shuffle=True
    )

    # Model
    model = ResNet(
        num_classes=config.num_classes,
        dropout=config.dropout
    ).to(device)

    # Optimizer
    if config.optimizer == 'adam':
        optimizer = torch.optim.Adam(
            model.parameters(),
            lr=config.learning_rate,
            weight_decay=config.weight_decay
        )
    elif config.optimizer == 'sgd':
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=config.learning_rate,
            momentum=config.momentum,
            weight_decay=config.weight_decay
        )

    # Scheduler
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs
    )

    # Training
    for epoch in range(config.epochs):
        model.train()
        train_loss = 0.0

        for data, target in train_loader:
            data, target = data.to(device), target.to(device)

            optimizer.zero_grad()
            output = model(data)
            loss = nn.CrossEntropyLoss()(output, target)
            loss.backward()
            optimizer.step()

            train_loss += loss.item()

        # Validation
        model.eval()
        val_loss, val_acc = validate(model, val_loader)

        # Step scheduler
        scheduler.step()

        # Log
        wandb.log({
            'train/loss': train_loss / len(train_loader),
            'val/loss': val_loss,
            'val/accuracy': val_acc,
            'learning_rate': scheduler.get_last_lr()[0],
            'epoch': epoch
        })
