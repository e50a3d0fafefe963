"""A module that runs its own sweep at import time, as many W&B scripts do; a trial imports it."""

from sweeprunner import wandb_compat as wandb


def train():
    with wandb.init() as run:
        wandb.log({"loss": run.config.x})


sweep_id = wandb.sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})
wandb.agent(sweep_id, function=train, count=1)
