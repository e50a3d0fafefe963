"""The guide's "Basic Template" train(), with tiny helpers and data; import changed only."""

import torch
import torch.nn as nn

from sweeprunner.trial import wandb_compat as wandb

torch.manual_seed(0)
_X = torch.randn(64, 4)
_Y = (_X.sum(dim=1, keepdim=True) > 0).float()


def build_model(hidden_size, num_layers, dropout):
    layers, width = [], 4
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden_size), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden_size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def create_optimizer(params, name, lr, weight_decay):
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
    return cls(params, lr=lr, weight_decay=weight_decay)


def train_epoch(model, optimizer, loader, batch_size):
    model.train()
    total, correct = 0.0, 0
    for i in range(0, len(_X), batch_size):
        x, y = _X[i:i + batch_size], _Y[i:i + batch_size]
        optimizer.zero_grad()
        out = model(x)
        loss = nn.functional.binary_cross_entropy_with_logits(out, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        correct += int(((out > 0).float() == y).sum())
    return total / len(_X), correct / len(_X)


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        out = model(_X)
        loss = nn.functional.binary_cross_entropy_with_logits(out, _Y).item()
        return loss, float(((out > 0).float() == _Y).float().mean())


train_loader = val_loader = None


def train():
    # Initialize W&B run
    run = wandb.init()

    # Get hyperparameters
    config = wandb.config

    # Build model with config
    model = build_model(
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout
    )

    # Create optimizer
    optimizer = create_optimizer(
        model.parameters(),
        name=config.optimizer,
        lr=config.learning_rate,
        weight_decay=config.weight_decay
    )

    # Training loop
    for epoch in range(config.epochs):
        # Train
        train_loss, train_acc = train_epoch(
            model, optimizer, train_loader, config.batch_size
        )

        # Validate
        val_loss, val_acc = validate(model, val_loader)

        # Log metrics
        wandb.log({
            'train/loss': train_loss,
            'train/accuracy': train_acc,
            'val/loss': val_loss,
            'val/accuracy': val_acc,
            'epoch': epoch
        })

    # Log final model
    torch.save(model.state_dict(), 'model.pth')
    wandb.save('model.pth')
    run.summary['final_val_loss'] = val_loss

    # Finish run
    wandb.finish()
