"""Starts a grandchild in its process group, writes both pids, then reports forever."""

import json
import os
import subprocess
import sys
import time

grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1], "w") as fh:
    json.dump({"child": os.getpid(), "grandchild": grandchild.pid}, fh)
step = 0
while True:
    print(json.dumps({"sweeprunner": {"loss": 1.0 / (step + 1)}}), flush=True)
    step += 1
    time.sleep(0.05)
