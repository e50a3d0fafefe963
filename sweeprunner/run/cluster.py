"""Does one trial fit the cluster? Checked before anything starts (Ray would leave it PENDING forever)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sweeprunner.errors import SweepConfigError

if TYPE_CHECKING:
    from ray.core.generated.autoscaler_pb2 import ClusterConfig

logger = logging.getLogger(__name__)

_SHOWN = ("CPU", "GPU")


def _fmt(resources: Mapping[str, float]) -> str:
    keys = [k for k in resources if k in _SHOWN or k.startswith("accelerator_type:")]
    return "{" + ", ".join(f"{k}: {resources[k]:g}" for k in keys) + "}"


def fits(bundle: Mapping[str, float], node: Mapping[str, float]) -> bool:
    """True when a node with ``node`` resources can hold ``bundle``."""
    return all(node.get(key, 0.0) + 1e-9 >= amount for key, amount in bundle.items() if amount > 0)


def check_fit(bundle: Mapping[str, float], nodes: Sequence[Mapping[str, float]],
              node_types: Sequence[Mapping[str, float]] = ()) -> None:
    """Raise a clear config error when no node (nor any autoscaler node type) can run one trial."""
    if any(fits(bundle, node) for node in [*nodes, *node_types]):
        return
    offers = sorted({_fmt(n) for n in [*nodes, *node_types]})
    where = "any node type of this cluster" if node_types else "any node of this cluster"
    raise SweepConfigError.single(
        ("sweeprunner", "resources"),
        f"one trial asks for {_fmt(bundle)}, more than {where} offers ({', '.join(offers) or 'no nodes'}): "
        "lower resources.cpu/gpu, add a node type that fits, or start the local Ray with --num-cpus/--num-gpus")


def cluster_nodes() -> list[dict[str, float]]:
    """Resources of each alive node of the connected Ray cluster."""
    import ray

    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def cluster_hosts() -> set[str]:
    """Distinct host addresses of the alive nodes (fake multi-node clusters share one host)."""
    import ray

    return {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}


def autoscaler_node_types() -> list[dict[str, float]]:
    """Resources of each node type the cluster's autoscaler may add ([] for a fixed cluster).

    Read from the v2 autoscaler's cluster config, else from the YAML the v1 autoscaler
    (``ray up``, ``ray start --autoscaling-config``) was started with, found on its monitor
    process's command line (the monitor runs on the head, where ``ray job submit`` drivers run).
    """
    config = v2_cluster_config()
    if config is not None and config.node_group_configs:
        return [dict(group.resources) for group in config.node_group_configs if group.max_count != 0]
    path = _monitor_autoscaling_config()
    if path is None:
        return []
    import yaml

    try:
        types = (yaml.safe_load(Path(path).read_text()) or {}).get("available_node_types", {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        logger.warning("autoscaler config %s unreadable (%s): checking the fit against the current nodes only", path, exc)
        return []
    return [dict((t or {}).get("resources") or {}) for t in (types or {}).values()]


def v2_cluster_config() -> ClusterConfig | None:
    """The v2 autoscaler's cluster config (its node types), or None without one.

    PRIVATE RAY API, kept to this one function: Ray 2.60 has no public call that returns the
    autoscaler's node types (``ray.autoscaler.v2.sdk`` gives status and demands, ``ray.util.state``
    nodes and actors; the config lives in the GCS internal KV that ``ray._private.state`` reads).
    If a Ray upgrade moves it, this returns None and the fit check uses the v1 YAML and the alive
    nodes; tests/test_launch.py::test_private_cluster_config_call_still_exists flags the move.
    """
    import ray

    try:
        from ray._private.state import state
    except ImportError:
        return None
    try:
        return state.get_cluster_config()
    except (AttributeError, RuntimeError, ray.exceptions.RayError) as exc:  # moved API; not connected; GCS error
        logger.debug("no v2 autoscaler cluster config: %s", exc)
        return None


def _monitor_autoscaling_config() -> str | None:
    """The ``--autoscaling-config`` file of this cluster's autoscaler monitor, when it runs here."""
    import psutil
    import ray

    try:
        gcs_address = ray.get_runtime_context().gcs_address
    except (AttributeError, RuntimeError):  # not connected to a cluster
        return None
    for proc in psutil.process_iter(["cmdline"]):
        args = proc.info.get("cmdline") or []
        if not any("monitor.py" in a for a in args) or not any(gcs_address in a for a in args):
            continue
        for i, arg in enumerate(args):
            if arg.startswith("--autoscaling-config="):
                value = arg.split("=", 1)[1]
            elif arg == "--autoscaling-config" and i + 1 < len(args):
                value = args[i + 1]
            else:
                continue
            path = Path(value).expanduser()
            return str(path) if path.is_file() else None
    return None
