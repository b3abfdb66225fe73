"""The engine: SiloModel and its parts, and the per-agent Mesa reference it docks with."""
