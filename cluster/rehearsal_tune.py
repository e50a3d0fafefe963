"""Plain Ray Tune twin of cluster/rehearsal-sweep.yaml, used by the rehearsal when sweeprunner's
launcher (``sweeprunner.run.launch``) is not available: 4 trials of the toy trainable, each
{cpu: 0.5, gpu: 0.5}, on the cluster this job was submitted to.

    python cluster/rehearsal_tune.py --storage /abs/dir

Prints one line ``REHEARSAL_RESULT {json}`` with the trial count and errors.
"""

from __future__ import annotations

import argparse
import json

import ray
from ray import tune

from sweeprunner.trainables import toy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True, help="absolute path or URI")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=1.0)
    args = parser.parse_args()

    ray.init(address="auto", log_to_driver=False)
    lrs = [10.0 ** -(i + 1) for i in range(args.trials)]
    tuner = tune.Tuner(
        tune.with_resources(toy.train, {"cpu": 0.5, "gpu": 0.5}),
        param_space={"lr": tune.grid_search(lrs), "epochs": args.epochs, "sleep": args.sleep},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="cluster-rehearsal", storage_path=args.storage, verbose=0),
    )
    grid = tuner.fit()
    summary = {
        "trials": len(grid),
        "errors": grid.num_errors,
        "terminated": grid.num_terminated,
        "experiment_path": grid.experiment_path,
    }
    print("REHEARSAL_RESULT " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
