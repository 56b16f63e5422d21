"""The ARM request semantics every resource type shares, one concern per module.

:class:`armsim.engine.Engine` composes them: ``core`` (state, provider registry), ``admission`` (authentication,
throttling, fault injection), ``routing`` (which path is which resource, subscription and provider endpoints),
``resource_groups``, ``paging`` (collections, ``nextLink``), ``conditional`` (ETags, ``If-Match`` /
``If-None-Match``), ``writes`` (PUT, PATCH, DELETE of a whole resource), ``children`` (child-resource endpoints),
``actions`` (POST actions), ``operations`` (long-running operations and their status endpoints, busy resources) and
``events`` (the Azure Resource Manager events published after each operation). Resource-type specifics are not
here: they are ``Provider`` classes (``armsim/provider.py``).
"""
