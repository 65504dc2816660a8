"""One-shot set-up of the operator in an AWS account (stack-bootstrap)."""
