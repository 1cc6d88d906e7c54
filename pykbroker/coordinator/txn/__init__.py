"""The transaction coordinator and the producer ids it hands out."""
