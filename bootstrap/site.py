"""What every bootstrap step shares: settings, the change log, account and ARNs."""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap.changes import Changes
from bootstrap.config import BootstrapConfig
from bootstrap.policy import Target


@dataclass
class Site:
    cfg: BootstrapConfig
    ch: Changes
    account: str
    partition: str
    queue_url: str | None = None

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        where = self.cfg.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.cfg.bucket}"

    @property
    def queue_arn(self) -> str | None:
        return self.arn("sqs", self.cfg.queue) if self.cfg.events else None

    def role_arn(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region=False)

    @property
    def log_group_arn(self) -> str:
        return self.arn("logs", f"log-group:{self.cfg.log_group}")

    @property
    def repository_arn(self) -> str:
        return self.arn("ecr", f"repository/{self.cfg.repository}")

    @property
    def image(self) -> str:
        if self.cfg.image:
            return self.cfg.image
        from importlib.metadata import PackageNotFoundError, version

        try:
            tag = version("stack-operator")
        except PackageNotFoundError:
            tag = "latest"
        host = f"{self.account}.dkr.ecr.{self.cfg.region}.amazonaws.com"
        return f"{host}/{self.cfg.repository}:{tag}"

    @property
    def target(self) -> Target:
        return Target(
            bucket=self.cfg.bucket,
            prefix=self.cfg.norm_prefix,
            account=self.account,
            region=self.cfg.region,
            partition=self.partition,
            queue_arn=self.queue_arn,
        )
