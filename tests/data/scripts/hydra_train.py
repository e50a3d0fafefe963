"""A Hydra-style script for `${args_no_hyphens}` (key=value overrides): prints JSON lines."""

import ast
import json
import os
import sys

cfg = {"model": {"width": 8}, "lr": 0.1, "epochs": 2}
for override in sys.argv[1:]:
    key, _, raw = override.partition("=")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    node = cfg
    *parents, leaf = key.lstrip("+").split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value

with open(os.path.join(os.environ["SWEEPRUNNER_TRIAL_DIR"], "argv.json"), "w") as fh:
    json.dump(sys.argv[1:], fh)
for epoch in range(cfg["epochs"]):
    print(f"epoch {epoch} training...")
    loss = cfg["lr"] * cfg["model"]["width"] / (epoch + 1)
    print(json.dumps({"sweeprunner": {"loss": loss, "epoch": epoch}}), flush=True)
