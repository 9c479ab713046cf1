"""PostgreSQL backend tests, and the throw-away cluster the suites run against."""
