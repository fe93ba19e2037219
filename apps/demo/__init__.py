"""The demo: a team with 90 days of pull requests, fed as signed webhook
deliveries through the real ``POST /webhooks/github/`` (see docs/demo.md)."""
