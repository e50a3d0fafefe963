"""The AWS security group of cluster/gpu.yaml: SSH from the operator's CIDR, Ray only inside.

    python cluster/secure_sg.py --check-config cluster/gpu.yaml   # offline: the YAML's rules
    python cluster/secure_sg.py --ensure cluster/gpu.yaml         # create/repair the group (boto3)
    python cluster/secure_sg.py --check-this-instance             # on a node: refuse open groups

Why this exists: when `ray up` creates the group itself, Ray adds "SSH from 0.0.0.0/0" to it
(ray.autoscaler._private.aws.config._create_default_ssh_inbound_rules) on top of
provider.security_group.IpPermissions. If a group with the configured GroupName already exists
and has rules, Ray uses it as it is. So `cluster/up.sh` runs `--ensure` first, and every node
runs `--check-this-instance` in its setup so that a bare `ray up` that created an open group
fails instead of starting Ray.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

WORLD = {"0.0.0.0/0", "::/0"}
SSH = 22


def _cidrs(rule: dict[str, Any]) -> list[str]:
    return [r.get("CidrIp", "") for r in rule.get("IpRanges", [])] + [
        r.get("CidrIpv6", "") for r in rule.get("Ipv6Ranges", [])
    ]


def _is_ssh_only(rule: dict[str, Any]) -> bool:
    return rule.get("IpProtocol") == "tcp" and rule.get("FromPort") == SSH and rule.get("ToPort") == SSH


def rule_problems(rules: Iterable[dict[str, Any]], own_group_id: str | None = None) -> list[str]:
    """What is wrong with a list of EC2 IpPermissions for a sweeprunner cluster group.

    Allowed: SSH (tcp 22) from specific CIDRs (not /0, not wider than /8 or /32 for IPv6), and
    any traffic from the group itself (own_group_id; any group id when own_group_id is None).
    """
    problems = []
    for rule in rules:
        where = f"rule {rule.get('IpProtocol')} {rule.get('FromPort')}-{rule.get('ToPort')}"
        for cidr in _cidrs(rule):
            if cidr in WORLD:
                problems.append(f"{where} is open to the world ({cidr})")
                continue
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                problems.append(f"{where}: {cidr!r} is not a CIDR (set your IP, e.g. 203.0.113.7/32)")
                continue
            if net.prefixlen < (8 if net.version == 4 else 32):
                problems.append(f"{where}: {cidr} is too broad")
            if not _is_ssh_only(rule):
                problems.append(f"{where} admits {cidr} to a port other than SSH")
        if rule.get("PrefixListIds"):
            problems.append(f"{where} admits prefix lists {rule['PrefixListIds']}")
        for pair in rule.get("UserIdGroupPairs", []):
            if own_group_id is not None and pair.get("GroupId") != own_group_id:
                problems.append(f"{where} admits another security group {pair.get('GroupId')}")
    return problems


def load_config(path: str | Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def config_problems(config: dict[str, Any]) -> list[str]:
    """Offline checks of a cluster YAML's security group settings."""
    sg = config.get("provider", {}).get("security_group", {})
    problems = []
    if not sg.get("GroupName"):
        problems.append("provider.security_group.GroupName is not set")
    rules = sg.get("IpPermissions", [])
    if not any(_is_ssh_only(r) and _cidrs(r) for r in rules):
        problems.append("provider.security_group.IpPermissions has no SSH rule from your CIDR")
    problems += rule_problems(rules)
    for name, node_type in config.get("available_node_types", {}).items():
        if "SecurityGroupIds" in node_type.get("node_config", {}):
            problems.append(f"{name}: SecurityGroupIds bypasses the checked group; remove it")
    return problems


# ---------------------------------------------------------------------------------- AWS calls


def ensure(config: dict[str, Any]) -> None:
    """Create the group if missing (default VPC), give it exactly the wanted rules, verify."""
    import boto3

    problems = config_problems(config)
    if problems:
        sys.exit("ERROR: fix provider.security_group in the cluster YAML first:\n  - "
                 + "\n  - ".join(problems))
    provider = config["provider"]
    sg_conf = provider["security_group"]
    ec2 = boto3.client("ec2", region_name=provider["region"])
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        sys.exit("ERROR: no default VPC in this region; create the group yourself with "
                 "the rules in cluster/README.md, in the VPC of your subnets.")
    vpc_id = vpcs[0]["VpcId"]
    found = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": [sg_conf["GroupName"]]},
    ])["SecurityGroups"]
    if found:
        group = found[0]
    else:
        gid = ec2.create_security_group(
            GroupName=sg_conf["GroupName"], VpcId=vpc_id,
            Description="sweeprunner Ray cluster: SSH from operator CIDR, Ray inside the group",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                {"Key": "ray-cluster-name", "Value": config["cluster_name"]}]}],
        )["GroupId"]
        group = {"GroupId": gid, "IpPermissions": []}
        print(f"created security group {sg_conf['GroupName']} ({gid}) in {vpc_id}")
    gid = group["GroupId"]

    # Remove anything that is not wanted (world-open rules, other ports, other groups).
    bad = [r for r in group.get("IpPermissions", []) if rule_problems([r], gid)]
    if bad:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=bad)
        print(f"revoked {len(bad)} unsafe rule(s) from {gid}")
    wanted = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid}]}] + sg_conf["IpPermissions"]
    for rule in wanted:
        try:
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[rule])
        except ec2.exceptions.ClientError as e:
            if "InvalidPermission.Duplicate" not in str(e):
                raise
    final = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    problems = rule_problems(final, gid)
    if problems:
        sys.exit(f"ERROR: security group {gid} is still unsafe:\n  - " + "\n  - ".join(problems))
    print(f"security group {sg_conf['GroupName']} ({gid}): SSH from "
          f"{', '.join(c for r in sg_conf['IpPermissions'] for c in _cidrs(r))}, Ray inside the group only")


def _imds(path: str) -> str:
    token = urllib.request.urlopen(urllib.request.Request(
        "http://169.254.169.254/latest/api/token", method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=2).read().decode()
    return urllib.request.urlopen(urllib.request.Request(
        f"http://169.254.169.254/latest/{path}",
        headers={"X-aws-ec2-metadata-token": token}), timeout=2).read().decode()


def check_this_instance() -> None:
    import boto3

    doc = json.loads(_imds("dynamic/instance-identity/document"))
    ec2 = boto3.client("ec2", region_name=doc["region"])
    inst = ec2.describe_instances(InstanceIds=[doc["instanceId"]])["Reservations"][0]["Instances"][0]
    group_ids = [g["GroupId"] for g in inst["SecurityGroups"]]
    problems = []
    for sg in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        problems += [f"{sg['GroupName']} ({sg['GroupId']}): {p}"
                     for p in rule_problems(sg["IpPermissions"], sg["GroupId"])]
    if problems:
        sys.exit("ERROR: refusing to start Ray on a node whose security group is open:\n  - "
                 + "\n  - ".join(problems)
                 + "\nRun `python cluster/secure_sg.py --ensure cluster/gpu.yaml` on your machine "
                   "(cluster/up.sh does), then `ray up cluster/gpu.yaml` again.")
    print(f"security groups {group_ids}: OK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check-config", metavar="YAML")
    group.add_argument("--ensure", metavar="YAML")
    group.add_argument("--check-this-instance", action="store_true")
    args = parser.parse_args(argv)
    if args.check_config:
        problems = config_problems(load_config(args.check_config))
        for p in problems:
            print(f"ERROR: {p}", file=sys.stderr)
        return 1 if problems else 0
    if args.ensure:
        ensure(load_config(args.ensure))
        return 0
    check_this_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main())
