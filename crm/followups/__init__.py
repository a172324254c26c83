"""Follow-ups: message templates, rules, the email outbox and its dispatcher, surveys, unsubscribe."""
