"""Reports once, then crashes (exit status 3)."""

import json
import sys

print(json.dumps({"sweeprunner": {"loss": 1.0}}), flush=True)
print("about to fail", file=sys.stderr)
sys.exit(3)
