"""Factories for GitHub webhook payloads, faithful to what GitHub sends.

The project's tests build their payloads here rather than reading recorded files
from outside the repository."""
