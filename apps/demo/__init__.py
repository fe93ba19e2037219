"""The demo: a team with 90 days of pull requests, fed in as webhook deliveries
stored and drained like GitHub's (see docs/demo.md)."""
