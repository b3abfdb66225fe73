"""conf/ is installed as the package sim._conf (see pyproject.toml), so Hydra finds it through pkg://."""
