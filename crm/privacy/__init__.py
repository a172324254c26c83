"""A customer's data rights: everything held about them, and erasure on request (issue 6)."""
