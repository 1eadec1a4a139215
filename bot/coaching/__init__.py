"""Coaching: the self-assessment, the routine builder and the questionnaire flow."""
