"""The guide's Python workflow run as __main__: one sweep, two agent calls, import line changed only."""

import sys

from sweeprunner import wandb_compat as wandb

sweep_config = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}, "width": {"values": [4, 8]}},
    "sweeprunner": {"seed": 3},
}


def train():
    with wandb.init() as run:
        for step in range(2):
            wandb.log({"loss": (run.config.x - 0.5) ** 2 + step, "width": wandb.config.width})


if __name__ == "__main__":
    sweep_id = wandb.sweep(sweep_config, project="api-main")
    wandb.agent(sweep_id, function=train, count=2)
    wandb.agent(sweep_id, train, count=1)
    print("SWEEP_ID", sweep_id)
    sys.exit(0)
