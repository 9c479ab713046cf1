"""Safety rules shared by the engine's tools and the node server (one implementation)."""
