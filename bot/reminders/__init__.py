"""Daily reminders: schedules, the dispatcher, commands and progress."""
