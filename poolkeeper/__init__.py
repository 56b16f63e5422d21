"""poolkeeper: keeps Azure Load Balancer wiring in step with VMs and scale sets, and enforces its guardrails."""

__version__ = "0.1.0"
