"""An argparse training script for `${args}`: logs through `import wandb` (the shim)."""

import argparse
import json
import os
import sys

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--note", type=str, default="")
parser.add_argument("--flag", type=lambda s: s == "True", default=False)
args = parser.parse_args()

with open(os.path.join(os.environ["SWEEPRUNNER_TRIAL_DIR"], "argv.json"), "w") as fh:
    json.dump(sys.argv[1:], fh)

run = wandb.init(config=args)
for epoch in range(wandb.config.epochs):
    wandb.log({"loss": (wandb.config.lr - 0.01) ** 2 + 1.0 / (epoch + 1), "epoch": epoch})
wandb.finish()
