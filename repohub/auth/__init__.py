"""Identity: accounts, organisations, memberships, tokens, password hashing."""
