"""Django's PostgreSQL backend, opening connections only within the request's deadline."""
