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
    )  # a field's docstring is its JSON Schema description (controller.spec.schema)


class Metadata(Model):
    name: StackName
    """Stack name: lowercase letters, digits and dashes; prefixes every AWS name."""
    labels: dict[TagKey, TagValue] = Field(default_factory=dict)
    """Free-form labels of the stack (not sent to AWS)."""


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
    """IPv4 block of the VPC, /16 to /28."""
    availability_zones: list[str] = Field(min_length=1, max_length=6)
    """Availability zones to spread subnets over, e.g. [us-east-1a, us-east-1b]."""
    public_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    """CIDR blocks of the public subnets (load balancer, NAT), one per zone in order."""
    private_app_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    """CIDR blocks of the private subnets the services run in."""
    private_data_subnets: list[Cidr] = Field(min_length=1, max_length=6)
    """CIDR blocks of the private subnets of the database."""
    nat_gateways: Literal["single", "perAz", "none"] = "single"
    """NAT for private subnets: one shared (single), one per zone (perAz, dearer) or none."""
    enable_dns_hostnames: bool = True
    """VPC attribute: give instances public DNS names."""
    enable_dns_support: bool = True
    """VPC attribute: the Amazon DNS server answers in the VPC."""


class Database(Model):
    enabled: bool = True
    """Create the PostgreSQL RDS instance."""
    engine: Literal["postgres"] = "postgres"
    """Database engine; only postgres."""
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
    """RDS instance class, e.g. db.t4g.micro."""
    allocated_storage: int = Field(default=20, ge=20, le=65536)
    """Storage in GiB at creation (20-65536)."""
    max_allocated_storage: int | None = Field(default=100, ge=20, le=65536)
    """Storage autoscaling ceiling in GiB; null turns it off."""
    multi_az: bool = False
    """A standby in a second zone (doubles the instance cost)."""
    backup_retention_days: int = Field(default=7, ge=0, le=35)
    """Days of automated backups (0 turns them off)."""
    storage_encrypted: bool = True
    """Encrypt the storage (fixed at creation)."""
    deletion_protection: bool = True
    """RDS deletion protection; must be false for deletionPolicy delete."""
    deletion_policy: Literal["snapshot", "retain", "delete"] = "snapshot"
    """When the database leaves the spec: snapshot it first, retain it, or delete it."""
    database_name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")] = (
        "portal"
    )
    """Name of the initial database."""
    master_username: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$")] = (
        "portal_admin"
    )
    """Master user; RDS generates its password and keeps it in Secrets Manager."""
    port: Port = 5432
    """Port the database listens on."""


class LoadBalancer(Model):
    enabled: bool = True
    """Create the internet-facing Application Load Balancer."""
    certificate_arn: str | None = None
    """ACM certificate ARN for an HTTPS listener; without it the listener is HTTP."""
    idle_timeout: int = Field(default=60, ge=1, le=4000)
    """Seconds an idle connection stays open (1-4000)."""
    default_service: ServiceName | None = Field(
        default=None, description="Service that receives requests no rule matches."
    )


class Frontend(Model):
    enabled: bool = True
    """Create the S3 bucket of the static frontend."""
    versioning: bool = True
    """Keep object versions in the frontend bucket."""


class Cdn(Model):
    enabled: bool = True
    """Create the CloudFront distribution in front of the frontend and the API."""
    comment: str = Field(default="", max_length=128)
    """Comment shown on the distribution."""
    default_root_object: str = "index.html"
    """Object served for requests to /."""
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    """Edge locations used: PriceClass_100 is the cheapest."""
    default_ttl: int = Field(default=3600, ge=0)
    """Seconds an object is cached when the origin says nothing."""
    min_ttl: int = Field(default=0, ge=0)
    """Shortest cache time in seconds."""
    max_ttl: int = Field(default=86400, ge=0)
    """Longest cache time in seconds."""
    api_path_pattern: str = "/api/*"
    """Path pattern sent to the load balancer instead of the bucket."""


class CapacityProviderStrategyItem(Model):
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"]
    """FARGATE or FARGATE_SPOT (cheaper, may be interrupted)."""
    weight: int = Field(default=1, ge=0, le=1000)
    """Share of tasks placed on this provider, relative to the others."""
    base: int = Field(default=0, ge=0, le=100000)
    """Tasks always placed on this provider first."""


class Cluster(Model):
    enabled: bool = True
    """Create the ECS cluster (and the services)."""
    container_insights: bool = True
    """CloudWatch Container Insights metrics for the cluster (billed)."""
    capacity_provider_strategy: list[CapacityProviderStrategyItem] = Field(
        default_factory=lambda: [
            CapacityProviderStrategyItem(capacity_provider="FARGATE", weight=1, base=1),
            CapacityProviderStrategyItem(capacity_provider="FARGATE_SPOT", weight=4),
        ]
    )
    """How tasks are spread over FARGATE and FARGATE_SPOT."""
    namespace: str | None = Field(
        default=None, description="Private DNS namespace; default <stack>.local"
    )


class Autoscaling(Model):
    enabled: bool = True
    """Scale the service's task count on CPU (and memory) utilisation."""
    min_capacity: int = Field(default=1, ge=0, le=1000)
    """Fewest tasks; at most maxCapacity."""
    max_capacity: int = Field(default=10, ge=1, le=1000)
    """Most tasks."""
    cpu_target: float = Field(default=70.0, gt=0, le=100)
    """Average CPU percent target tracking aims for."""
    memory_target: float | None = Field(default=80.0, gt=0, le=100)
    """Average memory percent target; null scales on CPU only."""
    scale_out_cooldown: int = Field(default=60, ge=0)
    """Seconds after a scale-out before the next."""
    scale_in_cooldown: int = Field(default=300, ge=0)
    """Seconds after a scale-in before the next."""


class HealthCheck(Model):
    path: Annotated[str, StringConstraints(pattern=r"^/", max_length=1024)] = "/health"
    """HTTP path the load balancer checks, starting with /."""
    interval: int = Field(default=30, ge=5, le=300)
    """Seconds between checks (5-300); above timeout."""
    timeout: int = Field(default=5, ge=2, le=120)
    """Seconds a check may take (2-120); below interval."""
    healthy_threshold: int = Field(default=2, ge=2, le=10)
    """Passed checks in a row before a target is healthy."""
    unhealthy_threshold: int = Field(default=3, ge=2, le=10)
    """Failed checks in a row before a target is unhealthy."""
    matcher: str = "200"
    """HTTP codes that count as healthy, e.g. 200 or 200-299."""


class Alarms(Model):
    enabled: bool = False
    """Create CloudWatch alarms on each service's CPU and memory."""
    cpu_threshold: float = Field(default=85.0, gt=0, le=100)
    """CPU percent above which the alarm fires."""
    memory_threshold: float = Field(default=85.0, gt=0, le=100)
    """Memory percent above which the alarm fires."""
    evaluation_periods: int = Field(default=2, ge=1)
    """Minutes above the threshold before the alarm fires."""
    alarm_actions: list[str] = Field(default_factory=list)
    """ARNs (e.g. SNS topics) notified when an alarm fires."""


class ServiceDefaults(Model):
    desired_count: int = Field(default=1, ge=0, le=1000)
    """Tasks per service when autoscaling is off (its starting count otherwise)."""
    log_retention_days: RetentionDays = 7
    """Days CloudWatch keeps each service's logs."""
    retain_logs_on_delete: bool = True
    """Keep a removed service's log group (its logs are data)."""
    autoscaling: Autoscaling = Autoscaling()
    """Autoscaling of every service without its own."""
    health_check: HealthCheck = HealthCheck()
    """Load balancer health check of every service without its own."""
    deregistration_delay: int = Field(default=30, ge=0, le=3600)
    """Seconds a draining target keeps its connections."""
    health_check_grace_period: int = Field(default=60, ge=0, le=2147483647)
    """Seconds after a task starts before health checks count."""
    circuit_breaker: bool = True
    """Roll back a deployment whose tasks keep failing."""
    enable_execute_command: bool = True
    """Allow `aws ecs execute-command` into tasks."""
    alarms: Alarms = Alarms()
    """CloudWatch alarms of every service."""
    environment: dict[EnvName, str] = Field(default_factory=dict)
    """Environment variables of every service (a service's own win)."""
    image_tag: str = "latest"
    """Image tag of services that name no image."""
    task_definition_revisions_to_keep: int = Field(default=5, ge=1, le=100)
    """Older task definition revisions kept for rollback."""


class Routing(Model):
    paths: list[Annotated[str, StringConstraints(pattern=r"^/", max_length=128)]] = Field(
        min_length=1, max_length=5
    )
    """Path patterns routed to the service, e.g. /api/orders/*."""
    priority: int | None = Field(default=None, ge=1, le=50000)
    """Listener rule priority (unique, lower wins); default derived from the service name."""


class Service(Model):
    name: ServiceName
    """Service name: lowercase letters, digits and dashes, unique in the stack."""
    port: Port
    """Container port, unique in the stack."""
    cpu: int
    """Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384."""
    memory: int
    """Memory in MiB; the values allowed depend on cpu."""
    image: str | None = Field(default=None, description="Default: the service's ECR repository")
    routing: Routing | None = None
    """Put the service behind the load balancer on these paths."""
    uses_database: bool = False
    """Inject the database's host, port, name and credentials."""
    environment: dict[EnvName, str] = Field(default_factory=dict)
    """Environment variables of the service."""
    secrets: dict[EnvName, str] = Field(
        default_factory=dict, description="Environment variable -> Secrets Manager secret ARN"
    )
    desired_count: int | None = Field(default=None, ge=0, le=1000)
    """Task count; default serviceDefaults.desiredCount."""
    autoscaling: Autoscaling | None = None
    """This service's autoscaling instead of serviceDefaults.autoscaling."""
    health_check: HealthCheck | None = None
    """This service's health check instead of serviceDefaults.healthCheck."""
    log_retention_days: RetentionDays | None = None
    """Days its logs are kept; default serviceDefaults.logRetentionDays."""


class StackBody(Model):
    mode: Literal["enforce", "observe"] = "enforce"
    """enforce: correct drift; observe: report drift, change nothing."""
    paused: bool = False
    """Stop every write to the stack until set back to false."""
    teardown: bool = False
    """Delete the whole stack (data kept per deletionPolicy)."""
    safety: Safety = Safety()
    """Limits on what one plan may delete or replace."""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    """Tags on every AWS resource of the stack."""
    network: Network
    """VPC, subnets and NAT."""
    database: Database = Database()
    """The PostgreSQL RDS instance."""
    load_balancer: LoadBalancer = LoadBalancer()
    """The Application Load Balancer."""
    frontend: Frontend = Frontend()
    """The static frontend bucket."""
    cdn: Cdn = Cdn()
    """The CloudFront distribution."""
    cluster: Cluster = Cluster()
    """The ECS cluster."""
    service_defaults: ServiceDefaults = ServiceDefaults()
    """Settings every service inherits unless it sets its own."""
    services: list[Service] = Field(default_factory=list, max_length=500)
    """The ECS services of the stack."""
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
    """Always stackop/v1."""
    kind: Literal["Stack"]
    """Always Stack."""
    metadata: Metadata
    """Name and labels of the stack."""
    spec: StackBody
    """What the stack should be."""

    @property
    def name(self) -> str:
        return self.metadata.name
