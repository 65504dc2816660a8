"""The user-facing stack model (`apiVersion: stackop/v1`, `kind: Stack`).

Strict: unknown fields and wrong types are rejected. Cross-field rules (CIDRs inside the
VPC, Fargate sizes, unique ports ...) live in `checks.py` so that each error can name
the exact field it is about.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

NAME_PATTERN = r"^[a-z][a-z0-9-]*[a-z0-9]$"
StackName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=2, max_length=63)]
ServiceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=2, max_length=63)]
Cidr = Annotated[str, Field(description="IPv4 CIDR block, e.g. 10.0.1.0/24")]
Port = Annotated[int, Field(ge=1, le=65535)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=255)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
RetentionDays = Literal[
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class Metadata(Model):
    name: StackName
    labels: dict[TagKey, TagValue] = Field(default_factory=dict)


class Safety(Model):
    max_deletions: int | None = Field(
        default=None,
        ge=0,
        description="Most resources one plan may delete; default 10% of the stack, at least 1.",
    )
    allow_replace: list[str] = Field(
        default_factory=list,
        description="Resource keys of this stack (kind/logical id, e.g. db_instance/main) that "
        "apply may replace when a change forces replacement.",
    )
    allow_rename: bool = Field(
        default=False,
        description="Let a spec object that manages a stack name another stack: the old "
        "stack is orphaned (nothing deleted) and a new one is built. Without it the rename "
        "is held until the old stack is torn down.",
    )


class Network(Model):
    cidr: Cidr = "10.0.0.0/16"
    availability_zones: list[str] = Field(min_length=1, max_length=6)
    public_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    private_app_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    private_data_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    nat_gateways: Literal["single", "perAz", "none"] = "single"
    enable_dns_hostnames: bool = True
    enable_dns_support: bool = True


class Database(Model):
    enabled: bool = True
    engine: Literal["postgres"] = "postgres"
    engine_version: str = Field(
        default="15.4",
        description="PostgreSQL version RDS offers: a major (e.g. 16) or major.minor (e.g. 16.4).",
    )
    allow_major_version_upgrade: bool = Field(
        default=False,
        description="Let a change of engineVersion to a newer major version upgrade the running "
        "database in place (irreversible); without it such a change is held.",
    )
    instance_class: Annotated[str, StringConstraints(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = (
        "db.t4g.micro"
    )
    allocated_storage: int = Field(default=20, ge=20, le=65536)
    max_allocated_storage: int | None = Field(default=100, ge=20, le=65536)
    multi_az: bool = False
    backup_retention_days: int = Field(default=7, ge=0, le=35)
    storage_encrypted: bool = True
    deletion_protection: bool = True
    deletion_policy: Literal["snapshot", "retain", "delete"] = "snapshot"
    database_name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")] = (
        "portal"
    )
    master_username: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$")] = (
        "portal_admin"
    )
    port: Port = 5432


class LoadBalancer(Model):
    enabled: bool = True
    certificate_arn: str | None = None
    idle_timeout: int = Field(default=60, ge=1, le=4000)
    default_service: ServiceName | None = Field(
        default=None, description="Service that receives requests no rule matches."
    )


class Frontend(Model):
    enabled: bool = True
    versioning: bool = True


class Cdn(Model):
    enabled: bool = True
    comment: str = Field(default="", max_length=128)
    default_root_object: str = "index.html"
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    default_ttl: int = Field(default=3600, ge=0)
    min_ttl: int = Field(default=0, ge=0)
    max_ttl: int = Field(default=86400, ge=0)
    api_path_pattern: str = "/api/*"


class CapacityProviderStrategyItem(Model):
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"]
    weight: int = Field(default=1, ge=0, le=1000)
    base: int = Field(default=0, ge=0, le=100000)


class Cluster(Model):
    enabled: bool = True
    container_insights: bool = True
    capacity_provider_strategy: list[CapacityProviderStrategyItem] = Field(
        default_factory=lambda: [
            CapacityProviderStrategyItem(capacity_provider="FARGATE", weight=1, base=1),
            CapacityProviderStrategyItem(capacity_provider="FARGATE_SPOT", weight=4),
        ]
    )
    namespace: str | None = Field(
        default=None, description="Private DNS namespace; default <stack>.local"
    )


class Autoscaling(Model):
    enabled: bool = True
    min_capacity: int = Field(default=1, ge=0, le=1000)
    max_capacity: int = Field(default=10, ge=1, le=1000)
    cpu_target: float = Field(default=70.0, gt=0, le=100)
    memory_target: float | None = Field(default=80.0, gt=0, le=100)
    scale_out_cooldown: int = Field(default=60, ge=0)
    scale_in_cooldown: int = Field(default=300, ge=0)


class HealthCheck(Model):
    path: Annotated[str, StringConstraints(pattern=r"^/", max_length=1024)] = "/health"
    interval: int = Field(default=30, ge=5, le=300)
    timeout: int = Field(default=5, ge=2, le=120)
    healthy_threshold: int = Field(default=2, ge=2, le=10)
    unhealthy_threshold: int = Field(default=3, ge=2, le=10)
    matcher: str = "200"


class Alarms(Model):
    enabled: bool = False
    cpu_threshold: float = Field(default=85.0, gt=0, le=100)
    memory_threshold: float = Field(default=85.0, gt=0, le=100)
    evaluation_periods: int = Field(default=2, ge=1)
    alarm_actions: list[str] = Field(default_factory=list)


class ServiceDefaults(Model):
    desired_count: int = Field(default=1, ge=0, le=1000)
    log_retention_days: RetentionDays = 7
    retain_logs_on_delete: bool = True
    autoscaling: Autoscaling = Autoscaling()
    health_check: HealthCheck = HealthCheck()
    deregistration_delay: int = Field(default=30, ge=0, le=3600)
    health_check_grace_period: int = Field(default=60, ge=0, le=2147483647)
    circuit_breaker: bool = True
    enable_execute_command: bool = True
    alarms: Alarms = Alarms()
    environment: dict[EnvName, str] = Field(default_factory=dict)
    image_tag: str = "latest"
    task_definition_revisions_to_keep: int = Field(default=5, ge=1, le=100)


class Routing(Model):
    paths: list[Annotated[str, StringConstraints(pattern=r"^/", max_length=128)]] = Field(
        min_length=1, max_length=5
    )
    priority: int | None = Field(default=None, ge=1, le=50000)


class Service(Model):
    name: ServiceName
    port: Port
    cpu: int
    memory: int
    image: str | None = Field(default=None, description="Default: the service's ECR repository")
    routing: Routing | None = None
    uses_database: bool = False
    environment: dict[EnvName, str] = Field(default_factory=dict)
    secrets: dict[EnvName, str] = Field(
        default_factory=dict, description="Environment variable -> Secrets Manager secret ARN"
    )
    desired_count: int | None = Field(default=None, ge=0, le=1000)
    autoscaling: Autoscaling | None = None
    health_check: HealthCheck | None = None
    log_retention_days: RetentionDays | None = None


class StackBody(Model):
    mode: Literal["enforce", "observe"] = "enforce"
    paused: bool = False
    teardown: bool = False
    safety: Safety = Safety()
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    network: Network
    database: Database = Database()
    load_balancer: LoadBalancer = LoadBalancer()
    frontend: Frontend = Frontend()
    cdn: Cdn = Cdn()
    cluster: Cluster = Cluster()
    service_defaults: ServiceDefaults = ServiceDefaults()
    services: list[Service] = Field(default_factory=list, max_length=500)
    # adoption (issue 11): existing resources to take over, and physical-name overrides
    adopt: dict[str, str] = Field(
        default_factory=dict,
        description="kind/logical-id -> physical name or id of an existing resource to adopt",
    )
    names: dict[str, str] = Field(
        default_factory=dict,
        description="kind/logical-id (or glob) -> physical name instead of the derived one; "
        "{id} is the logical id",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="kind/logical-id (or glob) -> rendered settings to replace, e.g. an "
        "adopted resource's description that cannot change in place",
    )


class StackSpec(Model):
    api_version: Literal["stackop/v1"]
    kind: Literal["Stack"]
    metadata: Metadata
    spec: StackBody

    @property
    def name(self) -> str:
        return self.metadata.name
