"""The HTTP surface: JSON APIs, provider receivers, health and OpenAPI."""
