"""Running poolkeeper on a workstation: the local Functions host, ``serve``, the demo and its armsim harness.

Not deployed: ``.funcignore`` keeps this package out of what Azure Functions runs, and nothing under
``poolkeeper/``, ``handlers/`` or ``function_app.py`` imports it at module level (``tests/test_deploy_boundary.py``).
The operator CLI reaches ``serve`` and ``demo`` here through one lazy import (``poolkeeper.cli.dev_command``).
"""
