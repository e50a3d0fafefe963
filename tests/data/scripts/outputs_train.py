"""Writes every kind of trial output: stdout/stderr, wandb history, wandb.run.dir and wandb.save files."""

import argparse
import os
import shutil
import sys
import tempfile

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int, required=True)
args = parser.parse_args()

run = wandb.init(config=args)
with open(os.path.join(run.dir, "in_run_dir.txt"), "w") as fh:
    fh.write(str(args.x))
scratch = tempfile.mkdtemp()
with open(os.path.join(scratch, "model.txt"), "w") as fh:
    fh.write("weights")
wandb.save(os.path.join(scratch, "model.txt"), base_path=scratch)
shutil.rmtree(scratch)
print("stdout of", args.x)
print("stderr of", args.x, file=sys.stderr)
wandb.log({"loss": float(args.x)})
wandb.finish()
if args.x == 3:
    sys.exit(3)
