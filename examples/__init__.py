"""Applications built on sqla_repo, tested end to end with the package."""
