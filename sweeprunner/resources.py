"""Does one trial fit the cluster? Checked before anything starts (Ray would leave it PENDING forever)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sweeprunner.errors import SweepConfigError

logger = logging.getLogger(__name__)
_SHOWN = ("CPU", "GPU")


def _fmt(resources: Mapping[str, float]) -> str:
    keys = [k for k in resources if k in _SHOWN or k.startswith("accelerator_type:")]
    return "{" + ", ".join(f"{k}: {resources[k]:g}" for k in keys) + "}"


def fits(bundle: Mapping[str, float], node: Mapping[str, float]) -> bool:
    """True when a node with ``node`` resources can hold ``bundle``."""
    return all(node.get(key, 0.0) + 1e-9 >= amount for key, amount in bundle.items() if amount > 0)


def check_fit(bundle: Mapping[str, float], nodes: Sequence[Mapping[str, float]],
              node_types: Sequence[Mapping[str, float]] | None = ()) -> None:
    """Raise a clear config error when no node (nor any autoscaler node type) can run one trial.

    ``node_types`` None means an autoscaler is running whose node types are unknown: then a
    trial that fits no current node is allowed (with a warning), since a new node may fit it.
    """
    if node_types is None:
        if not any(fits(bundle, node) for node in nodes):
            logger.warning("no current node fits one trial %s; waiting for the autoscaler to add one", _fmt(bundle))
        return
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


def autoscaler_node_types(bootstrap_config: str = "~/ray_bootstrap_config.yaml") -> list[dict[str, float]] | None:
    """Resources of each node type an autoscaler may add: [] for a fixed cluster, None when unknown.

    Read from the v2 autoscaler's cluster config, else from the ``ray up`` bootstrap config on
    the head; a v1 autoscaler that exposes neither gives None.
    """
    try:
        from ray._private.state import state

        config: Any = state.get_cluster_config()
    except Exception:
        config = None
    if config and getattr(config, "node_group_configs", None):
        return [dict(group.resources) for group in config.node_group_configs if group.max_count != 0]
    path = Path(bootstrap_config).expanduser()
    if path.is_file():
        import yaml

        types = (yaml.safe_load(path.read_text()) or {}).get("available_node_types", {})
        return [dict((t or {}).get("resources") or {}) for t in types.values()]
    return None if _autoscaler_running() else []


def _autoscaler_running() -> bool:
    """True when an autoscaler (monitor) has registered with the cluster's GCS."""
    try:
        from ray.experimental.internal_kv import _internal_kv_get

        return bool(_internal_kv_get("AutoscalerMetricsAddress"))
    except Exception:
        return False
