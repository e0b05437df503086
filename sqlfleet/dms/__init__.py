"""Pure AWS DMS knowledge: identifiers, task lifecycle and status classification."""
