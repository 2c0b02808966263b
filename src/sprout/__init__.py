"""Sprout: a self-hosted, Seed-style delivery service for serverless apps."""
