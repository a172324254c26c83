"""CSV imports of customers, purchases and moments (issue 6)."""
