"""Request-time components: query intent, intent scoring, feedback sessions, taste profiles."""
