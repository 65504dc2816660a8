"""Every resource kind, one module each. Adding a kind: a module plus one line here."""

from __future__ import annotations

from controller.engine import Kind
from controller.kinds.bucket_policy import BucketPolicy
from controller.kinds.db_instance import DbInstance
from controller.kinds.db_subnet_group import DbSubnetGroup
from controller.kinds.distribution import Distribution
from controller.kinds.ecr_repository import EcrRepository
from controller.kinds.ecs_cluster import EcsCluster
from controller.kinds.ecs_service import EcsService
from controller.kinds.elastic_ip import ElasticIp
from controller.kinds.frontend_bucket import FrontendBucket
from controller.kinds.iam_role import IamRole
from controller.kinds.internet_gateway import InternetGateway
from controller.kinds.listener import Listener
from controller.kinds.listener_rule import ListenerRule
from controller.kinds.load_balancer import LoadBalancer
from controller.kinds.log_group import LogGroup
from controller.kinds.metric_alarm import MetricAlarm
from controller.kinds.nat_gateway import NatGateway
from controller.kinds.origin_access_control import OriginAccessControl
from controller.kinds.route_table import RouteTable
from controller.kinds.scaling_policy import ScalingPolicy
from controller.kinds.scaling_target import ScalingTarget
from controller.kinds.security_group import SecurityGroup
from controller.kinds.service_discovery_namespace import ServiceDiscoveryNamespace
from controller.kinds.service_discovery_service import ServiceDiscoveryService
from controller.kinds.subnet import Subnet
from controller.kinds.target_group import TargetGroup
from controller.kinds.task_definition import TaskDefinition
from controller.kinds.vpc import Vpc

KIND_CLASSES: tuple[type[Kind], ...] = (
    Vpc,
    Subnet,
    InternetGateway,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    EcsCluster,
    ServiceDiscoveryNamespace,
    EcrRepository,
    LogGroup,
    IamRole,
    ServiceDiscoveryService,
    TaskDefinition,
    EcsService,
    ScalingTarget,
    ScalingPolicy,
    MetricAlarm,
    DbSubnetGroup,
    DbInstance,
    LoadBalancer,
    TargetGroup,
    Listener,
    ListenerRule,
    FrontendBucket,
    BucketPolicy,
    OriginAccessControl,
    Distribution,
)


def all_kinds() -> dict[str, Kind]:
    return {cls.name: cls() for cls in KIND_CLASSES}


def iam_actions() -> dict[str, tuple[str, ...]]:
    """IAM actions each kind declares, for the controller's generated policy."""
    return {cls.name: cls.iam_actions + cls.iam_implied for cls in KIND_CLASSES}


def implied_iam_actions() -> set[str]:
    """Actions granted only because AWS checks them during our calls (no call records them)."""
    return {action for cls in KIND_CLASSES for action in cls.iam_implied}
