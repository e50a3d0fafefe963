"""Cluster launcher configs in cluster/: Ray's own schema and offline checks, and the security
properties of cluster/gpu.yaml (token auth, loopback dashboard, SSH only from the user's CIDR,
intra-cluster ports only inside the group, S3 through instance profiles, no static keys)."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")
ray_autoscaler = pytest.importorskip("ray.autoscaler")

REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "cluster"
LAUNCHER_YAMLS = sorted(p for p in CLUSTER.glob("*.yaml") if p.name != "rehearsal-sweep.yaml")

sys.path.insert(0, str(CLUSTER))
import secure_sg  # noqa: E402

sys.path.remove(str(CLUSTER))


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    path = Path(ray_autoscaler.__file__).parent / "ray-schema.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def gpu() -> dict:
    return load("gpu.yaml")


def test_cluster_dir_has_the_launcher_configs():
    names = {p.name for p in LAUNCHER_YAMLS}
    assert {"gpu.yaml", "fake-local.yaml"} <= names


@pytest.mark.parametrize("path", LAUNCHER_YAMLS, ids=lambda p: p.name)
def test_yaml_validates_against_ray_schema(path, schema):
    cfg = yaml.safe_load(path.read_text())
    errors = [f"/{'/'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(cfg)]
    assert errors == []


@pytest.mark.parametrize("path", LAUNCHER_YAMLS, ids=lambda p: p.name)
def test_yaml_passes_ray_prepare_and_validate_config(path, monkeypatch):
    from ray.autoscaler._private import util

    cfg = yaml.safe_load(path.read_text())
    if cfg["provider"]["type"] == "fake_multinode":
        # The wheel lacks fake_multi_node/example.yaml, the provider's defaults file
        # (prepare_config would raise FileNotFoundError); fake-local.yaml sets every key itself.
        monkeypatch.setattr(util, "_get_default_config", lambda provider: {})
    prepared = util.prepare_config(copy.deepcopy(cfg))
    util.validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]
    # prepare_config must not have swapped in Ray's insecure default start commands.
    assert prepared["head_start_ray_commands"] == cfg["head_start_ray_commands"]


def test_a_bad_key_is_caught_by_the_schema(schema, gpu):
    bad = copy.deepcopy(gpu)
    bad["available_node_types"]["gpu_1x"]["gpus"] = 1
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad))


# ------------------------------------------------------------------------- gpu.yaml shape


def test_gpu_yaml_node_types_and_autoscaling(gpu):
    types = gpu["available_node_types"]
    head = types[gpu["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and not head["node_config"]["InstanceType"].startswith(("g", "p"))
    workers = {k: v for k, v in types.items() if k != gpu["head_node_type"]}
    gpus = sorted(v["resources"]["GPU"] for v in workers.values())
    assert gpus[0] == 1 and gpus[-1] > 1, "one single-GPU and one multi-GPU worker type"
    single = next(v for v in workers.values() if v["resources"]["GPU"] == 1)
    assert re.match(r"g[56]\.", single["node_config"]["InstanceType"])
    for v in workers.values():
        assert v["min_workers"] == 0
        assert v["max_workers"] >= 1
    assert isinstance(gpu["max_workers"], int) and gpu["max_workers"] >= 1
    assert 0 < gpu["idle_timeout_minutes"] <= 30
    assert gpu["provider"]["type"] == "aws"


def test_gpu_yaml_documents_spot(gpu):
    text = (CLUSTER / "gpu.yaml").read_text()
    assert re.search(r"#\s*InstanceMarketOptions:\s*\n\s*#\s*MarketType: spot", text)


def test_gpu_yaml_installs_project_with_pinned_python_and_ray(gpu):
    mounts = gpu["file_mounts"]
    assert mounts.get("/home/ubuntu/sweeprunner") == "."
    setup = "\n".join(gpu["setup_commands"])
    assert "--python 3.11" in setup
    assert "-e ~/sweeprunner" in setup
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"ray\[[^"]*\]==2\.60', pyproject), "Ray is pinned by the project itself"
    assert sys.version_info[:2] == (3, 11), "client Python must match the cluster's"


# ------------------------------------------------------------------------- security


def test_token_is_mounted_and_auth_mode_token_on_every_start(gpu):
    assert gpu["file_mounts"]["/home/ubuntu/.ray/auth_token"] == "~/.ray/auth_token"
    starts = [c for c in gpu["head_start_ray_commands"] + gpu["worker_start_ray_commands"]
              if "ray start" in c]
    assert len(starts) == 2
    for cmd in starts:
        assert "RAY_AUTH_MODE=token ray start" in cmd
    setup = gpu["setup_commands"]
    assert setup[0].startswith("bash ~/sweeprunner/cluster/check_token.sh --node")
    assert any("export RAY_AUTH_MODE=token" in c for c in setup)


def test_dashboard_never_on_all_interfaces(gpu):
    commands = " ".join(gpu["head_start_ray_commands"] + gpu["worker_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in commands
    assert "0.0.0.0" not in commands
    assert "--ray-client-server-port" not in commands
    for node_type in gpu["available_node_types"].values():
        assert "0.0.0.0" not in json.dumps(node_type)


def test_ssh_only_from_a_user_cidr_and_ray_ports_only_inside(gpu):
    sg = gpu["provider"]["security_group"]
    rules = sg["IpPermissions"]
    assert sg["GroupName"]
    # Only SSH is reachable from outside, never from the world.
    for rule in rules:
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 22, 22)
        for cidr in secure_sg._cidrs(rule):
            assert cidr not in {"0.0.0.0/0", "::/0"}
    # The shipped value is a placeholder the user must replace: the checker refuses it...
    problems = secure_sg.config_problems(gpu)
    assert problems and all("is not a CIDR" in p for p in problems)
    # ...and accepts it once it is a real address.
    edited = copy.deepcopy(gpu)
    edited["provider"]["security_group"]["IpPermissions"][0]["IpRanges"][0]["CidrIp"] = "203.0.113.7/32"
    assert secure_sg.config_problems(edited) == []
    # Nobody pins node types to another (unchecked) group.
    for node_type in gpu["available_node_types"].values():
        assert "SecurityGroupIds" not in node_type["node_config"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.0.0.0/4"])
def test_world_or_too_broad_ssh_is_refused(gpu, cidr):
    edited = copy.deepcopy(gpu)
    key = "Ipv6Ranges" if ":" in cidr else "IpRanges"
    rule = edited["provider"]["security_group"]["IpPermissions"][0]
    rule.pop("IpRanges")
    rule[key] = [{"CidrIpv6" if key == "Ipv6Ranges" else "CidrIp": cidr}]
    assert secure_sg.config_problems(edited)


def test_rays_own_default_group_rules_are_refused():
    """Ray's auto-created group (SSH from 0.0.0.0/0) is what the node check must reject."""
    pytest.importorskip("boto3")  # Ray's AWS module imports it; only `ray up` users need it
    from ray.autoscaler._private.aws.config import _create_default_inbound_rules

    ray_default = _create_default_inbound_rules({"sg-123"})
    assert any("open to the world" in p for p in secure_sg.rule_problems(ray_default, "sg-123"))


def test_group_rules_checker():
    """The rules secure_sg --ensure creates (self + operator CIDR) pass; world SSH, other ports
    from outside, and other groups do not."""
    world_ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert secure_sg.rule_problems(world_ssh, "sg-123")
    assert secure_sg.rule_problems(
        [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-other"}]}], "sg-123")
    ours = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-123"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "198.51.100.4/32"}]}]
    assert secure_sg.rule_problems(ours, "sg-123") == []
    dashboard_open = ours + [{"IpProtocol": "tcp", "FromPort": 8265, "ToPort": 8265,
                              "IpRanges": [{"CidrIp": "198.51.100.4/32"}]}]
    assert secure_sg.rule_problems(dashboard_open, "sg-123")


def test_results_via_instance_profiles_and_no_static_keys(gpu):
    for name, node_type in gpu["available_node_types"].items():
        cfg = node_type["node_config"]
        assert cfg["IamInstanceProfile"]["Name"].startswith("sweeprunner-"), name
        assert cfg["MetadataOptions"]["HttpTokens"] == "required", name
        for bdm in cfg.get("BlockDeviceMappings", []):
            assert bdm["Ebs"]["Encrypted"] is True
    worker_policy = json.loads((CLUSTER / "iam" / "worker-policy.json").read_text())
    actions = {a for s in worker_policy["Statement"] for a in s["Action"]}
    assert all(a.startswith("s3:") for a in actions), "workers get S3 on the results bucket only"
    for path in list(CLUSTER.glob("*.yaml")) + list(CLUSTER.glob("iam/*.json")):
        text = path.read_text()
        assert not re.search(r"AKIA[0-9A-Z]{16}", text), path
        assert "aws_secret_access_key" not in text.lower(), path
        assert "AWS_SECRET_ACCESS_KEY" not in text, path


# ------------------------------------------------------------------------- token check script


def run_check_token(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(home)
    return subprocess.run(["bash", str(CLUSTER / "check_token.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("where", ["", "--node"])
def test_missing_token_fails_with_the_command_that_makes_one(tmp_path, where):
    proc = run_check_token(tmp_path, *([where] if where else []))
    assert proc.returncode == 1
    assert "ray get-auth-token --generate" in proc.stderr
    assert str(tmp_path / ".ray" / "auth_token") in proc.stderr


def test_token_is_made_private(tmp_path):
    token = tmp_path / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("ab" * 32 + "\n")
    token.chmod(0o644)  # what `ray get-auth-token --generate` leaves
    proc = run_check_token(tmp_path, "--node")
    assert proc.returncode == 0, proc.stderr
    assert token.stat().st_mode & 0o777 == 0o600


def test_garbage_token_is_refused(tmp_path):
    token = tmp_path / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("not a token\n")
    assert run_check_token(tmp_path).returncode == 1


def test_up_sh_checks_token_and_group_before_ray_up():
    lines = [ln.strip() for ln in (CLUSTER / "up.sh").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    order = [next(i for i, ln in enumerate(lines) if key in ln)
             for key in ("check_token.sh", "secure_sg.py --ensure", "ray up")]
    assert order == sorted(order)
