"""Adoption: take over resources that already run (Terraform's, or untagged look-alikes)
by adding our ownership tags, and the collision pre-flight that refuses to create a
resource whose physical name is already taken.

Both run in the CLI with the user's credentials, never in the operator: their calls are
attributed to `ORIGIN` (not to a kind, nor to the operator's least-privilege policy)."""

ORIGIN = "adopt"
