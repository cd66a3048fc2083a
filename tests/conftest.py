"""Shared test settings: hypothesis kept small so the suite stays fast on 2 cores."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "chainrule",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chainrule")
