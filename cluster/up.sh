#!/usr/bin/env bash
# Bring up cluster/gpu.yaml safely: `cluster/up.sh [extra ray up flags]`, from the repo root.
#
# 1. Your Ray auth token exists and is 0600 (else: the command that makes one).
# 2. Your client matches the cluster: Python 3.11 and Ray 2.60.
# 3. The security group in gpu.yaml exists with only SSH-from-your-CIDR and intra-group rules
#    (cluster/secure_sg.py creates or repairs it), so `ray up` does not create one open to the world.
# 4. ray up cluster/gpu.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
config="${SWEEPRUNNER_CLUSTER_CONFIG:-cluster/gpu.yaml}"

bash cluster/check_token.sh

python - <<'PY'
import sys
import ray
if sys.version_info[:2] != (3, 11) or not ray.__version__.startswith("2.60."):
    sys.exit(f"ERROR: the cluster runs Python 3.11 and Ray 2.60; this client has Python "
             f"{sys.version.split()[0]} and Ray {ray.__version__}. Use the project venv (make install).")
PY

python cluster/secure_sg.py --ensure "$config"

exec ray up "$config" "$@"
