"""A script that never calls wandb.finish(): W&B finishes its run when the process exits.

`--mode summary`: the sweep metric is set only in run.summary.
`--mode pending`: the last row is logged with step= (held until the step moves on).
"""

import argparse

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="summary")
parser.add_argument("--x", type=float, default=1.0)
args = parser.parse_args()

run = wandb.init(config=args)
wandb.log({"train_loss": 2.0 * args.x})
if args.mode == "summary":
    run.summary["best_loss"] = 0.25 * args.x
else:
    wandb.log({"best_loss": 0.5 * args.x}, step=3)
# no wandb.finish()
