"""Thin trigger adapters: translate Azure Functions types to poolkeeper.service calls and back."""
