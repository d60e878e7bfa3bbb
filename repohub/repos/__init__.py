"""The domain: repos, forks, naming rules, the one access check, reading trees."""
