"""The guardrail catalog (PK001-PK015): rules from the source documents that Azure does not enforce.

``registry`` (the ``@guardrail`` decorator), ``settings`` (the configuration section), ``runner`` (``run_checks``),
``screen`` (enforcement before changes), ``nsg_eval`` and ``netpath`` (pure helpers), one ``pkNNN`` module per
guardrail.
"""
