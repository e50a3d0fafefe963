"""Starts 3 multiprocessing workers, writes every pid to --pids_dir, then reports forever."""

import argparse
import json
import multiprocessing
import os
import time


def work(_):
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pids_dir", required=True)
    args, _ = parser.parse_known_args()
    workers = [multiprocessing.Process(target=work, args=(i,)) for i in range(3)]
    for worker in workers:
        worker.start()
    with open(os.path.join(args.pids_dir, f"{os.getpid()}.json"), "w") as fh:
        json.dump([os.getpid(), *[w.pid for w in workers]], fh)
    step = 0
    while True:
        print(json.dumps({"sweeprunner": {"loss": 1.0 / (step + 1)}}), flush=True)
        step += 1
        time.sleep(0.2)
