"""Answering questions: understanding, safety, retrieval over the index, the coach."""
