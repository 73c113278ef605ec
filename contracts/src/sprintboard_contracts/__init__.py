"""Sprintboard event contracts: JSON Schemas, subjects and models."""
