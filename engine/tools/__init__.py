"""Tool declarations, the registry and the executor."""
