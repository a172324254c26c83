"""Private iCalendar feeds of each staff member's deadlines and follow-ups (issue 6)."""
