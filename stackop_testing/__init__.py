"""Test support that is never shipped: not in the wheel, not copied into the image.

The operator loads these modules only when a test-only variable asks for them
(controller/testhooks.py): STACKOP_FAULTS (faults.py) and STACKOP_CLOCK_SKEW_SECONDS
(clock.py). tests/conftest.py puts the checkout on PYTHONPATH so that the `stackop`
processes a test starts find them.
"""
