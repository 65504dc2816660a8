"""Adoption: take over resources that already run (Terraform's, or untagged look-alikes)
by adding our ownership tags, and the collision pre-flight that refuses to create a
resource whose physical name is already taken."""
