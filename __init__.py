"""Anxin (安心): a bilingual, retrieval-augmented AI insurance advisor."""

__version__ = "0.1.0"
